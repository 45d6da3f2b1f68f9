"""Label spaces of the datasets the suite knows: class names, don't-care and instance handling.

A :class:`LabelSpace` says how a dataset's integer label map becomes the generator's input
channels, so models, layouts and data loaders agree on one definition.
"""
from __future__ import annotations

from dataclasses import dataclass
from .errors import UserError

# Cityscapes labelIds 0..33 plus license plate, which SPADE maps to 34 (label_nc 35).
CITYSCAPES_CLASSES = (
    "unlabeled", "ego vehicle", "rectification border", "out of roi", "static", "dynamic",
    "ground", "road", "sidewalk", "parking", "rail track", "building", "wall", "fence",
    "guard rail", "bridge", "tunnel", "pole", "polegroup", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "caravan",
    "trailer", "train", "motorcycle", "bicycle", "license plate",
)

# ADE20K SceneParsing ids as stored: 0 = other/unknown, 1..150 the classes. These are the ids the
# official models were trained on: SPADE's (and CLADE's, VASIS's) ADE20K "label - 1" shift is
# never written back, so their one-hot channel k is raw id k, and OASIS uses the raw ids too.
ADE20K_CLASSES = (
    "unlabeled", "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane",
    "grass", "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant",
    "curtain", "chair", "car", "water", "painting", "sofa", "shelf", "house", "sea", "mirror",
    "rug", "field", "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp", "bathtub",
    "railing", "cushion", "base", "box", "column", "signboard", "chest of drawers", "counter",
    "sand", "sink", "skyscraper", "fireplace", "refrigerator", "grandstand", "path", "stairs",
    "runway", "case", "pool table", "pillow", "screen door", "stairway", "river", "bridge",
    "bookcase", "blind", "coffee table", "toilet", "flower", "book", "hill", "bench",
    "countertop", "stove", "palm", "kitchen island", "computer", "swivel chair", "boat", "bar",
    "arcade machine", "hovel", "bus", "towel", "light", "truck", "tower", "chandelier",
    "awning", "streetlight", "booth", "television receiver", "airplane", "dirt track",
    "apparel", "pole", "land", "bannister", "escalator", "ottoman", "bottle", "buffet",
    "poster", "stage", "van", "ship", "fountain", "conveyer belt", "canopy", "washer",
    "plaything", "swimming pool", "stool", "barrel", "basket", "waterfall", "tent", "bag",
    "minibike", "cradle", "oven", "ball", "food", "step", "tank", "trade name", "microwave",
    "pot", "animal", "bicycle", "lake", "dishwasher", "screen", "blanket", "sculpture", "hood",
    "sconce", "vase", "traffic light", "tray", "ashcan", "fan", "pier", "crt screen", "plate",
    "monitor", "bulletin board", "shower", "radiator", "glass", "clock", "flag",
)

# COCO-Stuff 182 ids as stored in the label PNGs (thing ids 0..90 incl. unused ones, stuff 91..181).
COCO_STUFF_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "street sign", "stop sign", "parking meter", "bench",
    "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "hat",
    "backpack", "umbrella", "shoe", "eye glasses", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard",
    "surfboard", "tennis racket", "bottle", "plate", "wine glass", "cup", "fork", "knife",
    "spoon", "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog",
    "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed", "mirror", "dining table",
    "window", "desk", "toilet", "door", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "blender", "book",
    "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush", "hair brush",
    "banner", "blanket", "branch", "bridge", "building-other", "bush", "cabinet", "cage",
    "cardboard", "carpet", "ceiling-other", "ceiling-tile", "cloth", "clothes", "clouds",
    "counter", "cupboard", "curtain", "desk-stuff", "dirt", "door-stuff", "fence",
    "floor-marble", "floor-other", "floor-stone", "floor-tile", "floor-wood", "flower", "fog",
    "food-other", "fruit", "furniture-other", "grass", "gravel", "ground-other", "hill",
    "house", "leaves", "light", "mat", "metal", "mirror-stuff", "moss", "mountain", "mud",
    "napkin", "net", "paper", "pavement", "pillow", "plant-other", "plastic", "platform",
    "playingfield", "railing", "railroad", "river", "road", "rock", "roof", "rug", "salad",
    "sand", "sea", "shelf", "sky-other", "skyscraper", "snow", "solid-other", "stairs", "stone",
    "straw", "structural-other", "table", "tent", "textile-other", "towel", "tree", "vegetable",
    "wall-brick", "wall-concrete", "wall-other", "wall-panel", "wall-stone", "wall-tile",
    "wall-wood", "water-other", "waterdrops", "window-blind", "window-other", "wood",
)

# The suite's own procedurally generated scenes (see vasis.data): few classes, CPU-sized.
SCENES_CLASSES = ("unlabeled", "sky", "ground", "road", "tree", "building", "water")

DONTCARE_ID = 255


@dataclass(frozen=True)
class LabelSpace:
    """How a dataset's label map becomes network input.

    ``label_nc`` ids ``0..label_nc-1`` are real classes; with ``dontcare`` the id 255 becomes an
    extra one-hot channel ``label_nc``; with ``instance`` an instance-edge channel follows.
    """

    name: str
    classes: tuple[str, ...]
    dontcare: bool
    instance: bool

    @property
    def label_nc(self) -> int:
        return len(self.classes)

    @property
    def semantic_nc(self) -> int:
        """One-hot channels (real classes plus don't-care), without the instance edges."""
        return self.label_nc + int(self.dontcare)

    @property
    def input_nc(self) -> int:
        """Channels of the SPADE-family generator input: one-hot, don't-care, instance edges."""
        return self.semantic_nc + int(self.instance)

    def class_id(self, name_or_id: str | int) -> int:
        """Class id from a name (case-insensitive) or an id, with a clear error otherwise."""
        if isinstance(name_or_id, int) or (isinstance(name_or_id, str) and name_or_id.isdigit()):
            idx = int(name_or_id)
            if not 0 <= idx < self.label_nc:
                raise UserError(
                    f"class id {idx} is out of range for {self.name}: valid ids are 0..{self.label_nc - 1}")
            return idx
        key = str(name_or_id).strip().lower()
        for idx, cname in enumerate(self.classes):
            if cname.lower() == key:
                return idx
        close = [c for c in self.classes if key in c.lower() or c.lower() in key][:8]
        hint = f" Did you mean one of {close}?" if close else ""
        raise UserError(
            f"unknown class name {name_or_id!r} for {self.name}.{hint} "
            f"Run `python run_analysis.py classes --dataset {self.name}` to list them.")


LABEL_SPACES = {
    "cityscapes": LabelSpace("cityscapes", CITYSCAPES_CLASSES, dontcare=False, instance=True),
    "ade20k": LabelSpace("ade20k", ADE20K_CLASSES, dontcare=False, instance=False),
    "coco-stuff": LabelSpace("coco-stuff", COCO_STUFF_CLASSES, dontcare=True, instance=True),
    "scenes": LabelSpace("scenes", SCENES_CLASSES, dontcare=False, instance=False),
}


def label_space(dataset: str) -> LabelSpace:
    try:
        return LABEL_SPACES[dataset]
    except KeyError:
        raise UserError(
            f"unknown dataset {dataset!r}; known datasets: {sorted(LABEL_SPACES)}") from None
