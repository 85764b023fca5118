"""Export targets derived from the final composite of a synthesized dataset (``oodforge export <target>``).

Each target reads only what the written images show (``gt_pixel``, the ``instances`` id map and
``labels/<id>.json``) and writes one folder with an ``exports.json``:

==========================  =================================================================
target                      what it writes
==========================  =================================================================
``trainids``                :mod:`~oodforge.export.targets.trainids`: Cityscapes train ids, anomalies = 254
``outlier-mask``            :mod:`~oodforge.export.targets.outlier_mask`: 0/1/255 masks
``coco``                    :mod:`~oodforge.export.targets.coco`: COCO instance JSON (RLE) per split
``cityscapes-instances``    :mod:`~oodforge.export.targets.cityscapes_instances`: instanceIds, anomalies = 50000 + k
==========================  =================================================================
"""

from oodforge.export.targets._run import EXPORTS_JSON, TargetExport
from oodforge.export.targets.cityscapes_instances import (
    ANOMALY_LABEL_ID,
    export_cityscapes_instances,
    instance_ids_from_composite,
)
from oodforge.export.targets.coco import coco_annotations, encode_rle, export_coco
from oodforge.export.targets.outlier_mask import export_outlier_mask, outlier_mask_from_composite
from oodforge.export.targets.trainids import DEFAULT_ANOMALY_VALUE, export_trainids, trainids_from_composite

__all__ = [
    "ANOMALY_LABEL_ID",
    "DEFAULT_ANOMALY_VALUE",
    "EXPORTS_JSON",
    "TargetExport",
    "coco_annotations",
    "encode_rle",
    "export_cityscapes_instances",
    "export_coco",
    "export_outlier_mask",
    "export_trainids",
    "instance_ids_from_composite",
    "outlier_mask_from_composite",
    "trainids_from_composite",
]
