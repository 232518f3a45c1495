"""The sandbox's fixed world: one workspace, its projects, models and techniques.

Everything here is data. Durations are the simulated run lengths at time_scale 1 and costs are
what a start charges, in USD; the API answers quote them as estimated_seconds and charged_cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WORKSPACE_ID = "ws_sandbox"
PROJECT_ID = "prj_sandbox"

USD_PER_CREDIT = 0.001  # how the sandbox turns a model's USD cost into the credits it publishes

# A fixed creation time (2025-01-01T00:00:00Z, unix ms) so seed answers are stable across runs.
SEED_CREATED_AT_MS = 1_735_689_600_000


@dataclass(frozen=True)
class SeedProject:
    project_id: str
    name: str
    created_at: int
    workspace_id: str = WORKSPACE_ID
    origin: str = "app"  # made in FLORA's app; "api" for one made through POST .../projects

    def to_json(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "workspace_id": self.workspace_id,
            "name": self.name,
            "created_at": self.created_at,
            "last_modified": self.created_at,
            "origin": self.origin,
        }


@dataclass(frozen=True)
class SeedModel:
    model_id: str
    name: str
    type: str  # image, video, audio or text
    seconds: float
    cost: float
    capabilities: tuple[str, ...]
    params: tuple[dict[str, Any], ...] = ()
    # The source media param the id implies, as at FLORA: taken but never listed in `params`.
    # (name, "one" for a URL string or "list" for an array of URLs); None: the model takes none.
    source: tuple[str, str] | None = None
    # Marked `default: true` in the listing: the model a start naming none runs. With several
    # models of a type this is how a client can know it (runs/catalog.py reads the mark).
    default: bool = False

    def sources(self, params: dict[str, Any] | None) -> list[str]:
        """The source URLs this model sees in `params`: none when it takes none or they came in the
        wrong form (FLORA ignores those and runs blind); a repeated URL counts once, as at FLORA."""
        if self.source is None or not params:
            return []
        name, form = self.source
        value = params.get(name)
        if form == "one":
            return [value] if isinstance(value, str) and value else []
        if not isinstance(value, list):
            return []
        return list(dict.fromkeys(v for v in value if isinstance(v, str) and v))

    def to_json(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "name": self.name,
            "provider": "sandbox",
            "type": self.type,
            "capabilities": list(self.capabilities),
            # FLORA publishes credits, not USD; its guidance measured 1 credit as about 0.001 USD.
            "estimated_credits": round(self.cost / USD_PER_CREDIT),
            "estimated_seconds": self.seconds,
            "beta": False,
            "params": [dict(p) for p in self.params],
        } | ({"default": True} if self.default else {})


@dataclass(frozen=True)
class SeedIO:
    """One input or output of a technique; `type` is text, imageUrl, videoUrl, audioUrl,
    documentUrl or (an input) json, which takes any JSON value."""

    id: str
    name: str
    type: str
    optional: bool = False
    description: str = ""
    allow_multiple: bool = False  # the input takes several values (a list, or the id repeated)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "optional": self.optional,
            "description": self.description,
        }
        if self.allow_multiple:
            body["allow_multiple"] = True
        return body


@dataclass(frozen=True)
class SeedTechnique:
    technique_id: str
    slug: str
    name: str
    description: str
    run_cost: float
    seconds: float
    inputs: tuple[SeedIO, ...]
    outputs: tuple[SeedIO, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "technique_id": self.technique_id,
            "slug": self.slug,
            "name": self.name,
            "description": self.description,
            "run_cost": self.run_cost,
            "inputs": [i.to_json() for i in self.inputs],
            "outputs": [o.to_json() for o in self.outputs],
        }


WORKSPACES: tuple[dict[str, Any], ...] = (
    {"workspace_id": WORKSPACE_ID, "name": "Sandbox workspace", "role": "owner", "created_at": SEED_CREATED_AT_MS},
)

# Three projects so that paging and the name query have something to work on.
PROJECTS: tuple[SeedProject, ...] = (
    SeedProject(PROJECT_ID, "Sandbox project", SEED_CREATED_AT_MS + 3000),
    SeedProject("prj_sandboxlaunch", "Product launch", SEED_CREATED_AT_MS + 2000),
    SeedProject("prj_sandboxmoodboard", "Moodboard", SEED_CREATED_AT_MS + 1000),
)

MODELS: tuple[SeedModel, ...] = (
    SeedModel(
        "t2i-sandbox-image",
        "Sandbox Image",
        "image",
        seconds=6,
        cost=0.04,
        capabilities=("text-to-image",),
        default=True,
        params=(
            {
                "name": "aspect_ratio",
                "required": False,
                "type": "string",
                "default": "1:1",
                "description": "Width to height ratio of the image.",
                "options": [
                    {"label": "Square", "value": "1:1"},
                    {"label": "Landscape", "value": "16:9"},
                    {"label": "Portrait", "value": "9:16"},
                ],
            },
            {"name": "seed", "required": False, "type": "seed", "description": "Seed for a repeatable image."},
            {
                "name": "guidance",
                "required": False,
                "type": "float",
                "default": 3.5,
                "description": "How closely to follow the prompt.",
                "min": 0,
                "max": 20,
            },
            {
                "name": "styles",
                "required": False,
                "type": "string[]",
                "default": [],
                "description": "Style presets to combine.",
                "options": [{"label": "Photo", "value": "photo"}, {"label": "Illustration", "value": "illustration"}],
            },
            {"name": "safety_checker", "required": False, "type": "bool", "default": True, "description": "Filter."},
            {"name": "lora", "required": False, "type": "dict", "description": "LoRA weights by name."},
            # A param type FLORA added after this server was written: passed through unchecked.
            {"name": "palette", "required": False, "type": "color[]", "description": "Colours to favour."},
        ),
    ),
    SeedModel(
        "t2v-sandbox-video",
        "Sandbox Video",
        "video",
        seconds=45,
        cost=0.5,
        capabilities=("text-to-video",),
        default=True,
        params=(
            {
                "name": "duration",
                "required": False,
                "type": "int",
                "default": 5,
                "description": "Length of the clip in seconds.",
                "min": 2,
                "max": 10,
            },
        ),
    ),
    SeedModel(
        "t2a-sandbox-audio",
        "Sandbox Audio",
        "audio",
        seconds=12,
        cost=0.1,
        capabilities=("text-to-audio",),
        default=True,
        params=(
            {
                "name": "voice",
                "required": False,
                "type": "string",
                "default": "calm",
                "description": "Voice of the narration.",
                "options": ["calm", "bright"],
            },
        ),
    ),
    SeedModel(
        "t2t-sandbox-text",
        "Sandbox Text",
        "text",
        seconds=3,
        cost=0.01,
        capabilities=("text-to-text",),
        default=True,
        params=(
            {
                "name": "max_tokens",
                "required": False,
                "type": "int",
                "default": 512,
                "description": "Longest answer, in tokens.",
                "min": 1,
                "max": 4000,
            },
        ),
    ),
    # Models that take source media. As at FLORA, the media param is implied by the id's prefix
    # and absent from `params`; the wrong form is ignored (the run goes blind) and still billed.
    SeedModel(
        "i2i-sandbox-edit",
        "Sandbox Image Edit",
        "image",
        seconds=8,
        cost=0.05,
        capabilities=("image-to-image",),
        params=(
            {
                "name": "strength",
                "required": False,
                "type": "float",
                "default": 0.6,
                "description": "How far the edit may move from the source.",
                "min": 0,
                "max": 1,
            },
        ),
        source=("image_url", "one"),
    ),
    SeedModel(
        "i2v-sandbox-animate",
        "Sandbox Animate",
        "video",
        seconds=50,
        cost=0.6,
        capabilities=("image-to-video",),
        params=(
            {
                "name": "duration",
                "required": False,
                "type": "int",
                "default": 5,
                "description": "Length of the clip in seconds.",
                "min": 2,
                "max": 10,
            },
        ),
        source=("image_url", "one"),
    ),
    SeedModel(
        "r2v-sandbox-references",
        "Sandbox References Video",
        "video",
        seconds=55,
        cost=0.7,
        capabilities=("reference-to-video",),
        source=("image_urls", "list"),
    ),
    SeedModel(
        "i2t-sandbox-describe",
        "Sandbox Describe",
        "text",
        seconds=4,
        cost=0.01,
        capabilities=("image-to-text",),
        source=("image_urls", "list"),
    ),
    SeedModel(
        "v2t-sandbox-watch",
        "Sandbox Watch",
        "text",
        seconds=10,
        cost=0.02,
        capabilities=("video-to-text",),
        source=("video_urls", "list"),
    ),
)

TECHNIQUES: tuple[SeedTechnique, ...] = (
    SeedTechnique(
        technique_id="tech_sandboxposter",
        slug="poster-maker",
        name="Poster maker",
        description="Turns a subject (and an optional style) into a finished poster image.",
        run_cost=0.12,
        seconds=20,
        inputs=(
            SeedIO("subject", "Subject", "text", description="What the poster shows."),
            SeedIO("style", "Style", "text", optional=True, description="Visual style, e.g. 'risograph'."),
            SeedIO(
                "references",
                "References",
                "imageUrl",
                optional=True,
                allow_multiple=True,
                description="Images whose look the poster borrows (several allowed).",
            ),
            # An input type FLORA added (beyond text, imageUrl, videoUrl): any JSON value, top-level route only.
            SeedIO("layout", "Layout", "json", optional=True, description="Layout settings as a JSON object."),
        ),
        outputs=(SeedIO("poster", "Poster", "imageUrl", description="The poster image."),),
    ),
    SeedTechnique(
        technique_id="tech_sandboxclip",
        slug="product-clip",
        name="Product clip",
        description="Animates a product photo into a short video clip.",
        run_cost=0.9,
        seconds=60,
        inputs=(
            SeedIO("product_image", "Product image", "imageUrl", description="URL of the product photo."),
            SeedIO("mood", "Mood", "text", optional=True, description="Mood of the clip, e.g. 'upbeat'."),
        ),
        outputs=(SeedIO("clip", "Clip", "videoUrl", description="The video clip."),),
    ),
    SeedTechnique(
        technique_id="tech_sandboxcaption",
        slug="caption-writer",
        name="Caption writer",
        description="Writes a caption for an image.",
        run_cost=0.02,
        seconds=30,
        inputs=(SeedIO("image", "Image", "imageUrl", description="URL of the image to caption."),),
        outputs=(SeedIO("caption", "Caption", "text", description="The caption."),),
    ),
    # A round quarter of a dollar: budget tests (cap 1.00) take exactly four of these.
    SeedTechnique(
        technique_id="tech_sandboxstoryboard",
        slug="storyboard",
        name="Storyboard",
        description="Sketches a storyboard panel from a scene description.",
        run_cost=0.25,
        seconds=15,
        inputs=(SeedIO("scene", "Scene", "text", description="What happens in the panel."),),
        outputs=(SeedIO("panel", "Panel", "imageUrl", description="The storyboard panel."),),
    ),
    # Inputs of the URL types beyond image and video: FLORA takes them on the top-level route only
    # (the nested route documents text, imageUrl and videoUrl).
    SeedTechnique(
        technique_id="tech_sandboxslides",
        slug="narrated-slides",
        name="Narrated slides",
        description="Turns a slide deck and a narration into a narrated video.",
        run_cost=0.3,
        seconds=40,
        inputs=(
            SeedIO("deck", "Deck", "documentUrl", description="URL of the slide deck (PDF)."),
            SeedIO("narration", "Narration", "audioUrl", description="URL of the narration audio."),
        ),
        outputs=(SeedIO("video", "Video", "videoUrl", description="The narrated video."),),
    ),
)


def find_model(model_id: str) -> SeedModel | None:
    return next((m for m in MODELS if m.model_id == model_id), None)


def default_model(generation_type: str) -> SeedModel:
    return next(m for m in MODELS if m.type == generation_type and m.default)


def find_technique(id_or_slug: str) -> SeedTechnique | None:
    return next((t for t in TECHNIQUES if id_or_slug in (t.technique_id, t.slug)), None)


def find_project(project_id: str) -> SeedProject | None:
    return next((p for p in PROJECTS if p.project_id == project_id), None)


def workspace_exists(workspace_id: str) -> bool:
    return any(w["workspace_id"] == workspace_id for w in WORKSPACES)


# --- actions: deterministic media transforms (GET /actions, POST /runs/action) -------------------
@dataclass(frozen=True)
class SeedAction:
    """One action; `inputs`/`outputs` and `params` are FLORA's JSON shapes as published."""

    action_id: str
    name: str
    description: str
    charged_cost: float
    seconds: float
    inputs: tuple[dict[str, Any], ...]
    outputs: tuple[dict[str, Any], ...]
    params: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "action_id": self.action_id,
            "name": self.name,
            "description": self.description,
            "charged_cost": self.charged_cost,
            "language": "en",
            "inputs": [dict(i) for i in self.inputs],
            "outputs": [dict(o) for o in self.outputs],
            "params": [dict(p) for p in self.params],
        }


def _size_param(key: str, label: str) -> dict[str, Any]:
    return {
        "key": key,
        "type": "number",
        "label": label,
        "default_value": 1024,
        "min_number_value": 16,
        "max_number_value": 4096,
        "number_step": 1,
    }


ACTIONS: tuple[SeedAction, ...] = (
    SeedAction(
        action_id="resize-image-browser",
        name="Resize image",
        description="Resizes an image to the given width and height.",
        charged_cost=0.0,
        seconds=2,
        inputs=({"name": "image", "type": "image"},),
        outputs=({"name": "image", "type": "image"},),
        params=(_size_param("width", "Width"), _size_param("height", "Height")),
    ),
    SeedAction(
        action_id="crop-image-browser",
        name="Crop image",
        description="Crops an image to an aspect ratio, around its centre.",
        charged_cost=0.0,
        seconds=2,
        inputs=({"name": "image", "type": "image"},),
        outputs=({"name": "image", "type": "image"},),
        params=(
            {
                "key": "aspect_ratio",
                "type": "string",
                "label": "Aspect ratio",
                "default_value": "1:1",
                "available_values": ["1:1", "4:3", "16:9", "9:16"],
            },
        ),
    ),
    SeedAction(
        action_id="extract-frame-browser",
        name="Extract frame",
        description="Extracts one frame of a video as an image.",
        charged_cost=0.01,
        seconds=4,
        inputs=({"name": "video", "type": "video"},),
        outputs=({"name": "frame", "type": "image"},),
        params=(
            {
                "key": "position",
                "type": "string",
                "label": "Frame",
                "default_value": "first",
                "available_values": ["first", "middle", "last"],
            },
        ),
    ),
    SeedAction(
        action_id="stitch-videos-browser",
        name="Stitch videos",
        description="Joins videos end to end into one.",
        charged_cost=0.02,
        seconds=8,
        inputs=({"name": "videos", "type": "video", "multiple": {"min": 2, "max": 10}},),
        outputs=({"name": "video", "type": "video"},),
    ),
)


def find_action(action_id: str) -> SeedAction | None:
    return next((a for a in ACTIONS if a.action_id == action_id), None)
