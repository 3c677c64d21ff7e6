"""Request-body validation for the LINE emulator, driven by LINE's own OpenAPI spec.

The spec (`messaging-api.yml`, from line/line-openapi) carries the shapes: types, required fields,
enums and the `type` discriminators of Message / FlexContainer / FlexComponent / Action / Template.
It omits most size limits that the written reference states ("Max character limit: 5000"), so
those are layered on top in `DOCUMENTED_RULES`, each with the reference anchor it comes from.

Errors are reported the way LINE reports them
(https://developers.line.biz/en/reference/messaging-api/#error-responses):

- ordinary properties: `{"message": "The request body has N error(s)", "details": [{"message":
  "May not be empty", "property": "messages[0].text"}]}`;
- inside a Flex container LINE validates separately and answers `{"message": "A message
  (messages[0]) in the request body is invalid", "details": [{"message": "must be specified",
  "property": "/body/contents/0/text"}]}` — the property is a JSON pointer relative to the
  container (seen in line/line-bot-sdk-python#273 and line/line-bot-sdk-go#657).

When the spec file is not available (a sandbox without ../shared) `FALLBACK_SCHEMAS` gives a light
structural check with the same reporting.
"""
from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlsplit

SPEC_RELPATH = Path("line") / "messaging-api.yml"

# Which request schema each emulated operation validates against (names as in the spec).
REQUEST_SCHEMAS = {
    "reply": "ReplyMessageRequest",
    "push": "PushMessageRequest",
    "multicast": "MulticastRequest",
    "broadcast": "BroadcastRequest",
    "validate": "ValidateMessageRequest",
    "loading": "ShowLoadingAnimationRequest",
    "mark_read_by_token": "MarkMessagesAsReadByTokenRequest",
    "mark_read": "MarkMessagesAsReadRequest",
}

FLEX_BUBBLE_MAX_BYTES = 30 * 1024    # "The maximum size of JSON data that defines a bubble is 30 KB"
FLEX_CAROUSEL_MAX_BYTES = 50 * 1024  # "... a carousel is 50 KB" (reference > Flex Message > Container)


def default_spec_path() -> Path | None:
    """`$ORDERCHATZ_SHARED_FIXTURES/line/messaging-api.yml`, else `<repo>/../shared/fixtures/...`."""
    candidates: list[Path] = []
    env = os.environ.get("ORDERCHATZ_SHARED_FIXTURES")
    if env:
        candidates.append(Path(env) / SPEC_RELPATH)
    repo = Path(__file__).resolve().parents[3]
    candidates.append(repo.parent / "shared" / "fixtures" / SPEC_RELPATH)
    candidates.append(Path.cwd().parent / "shared" / "fixtures" / SPEC_RELPATH)
    for path in candidates:
        if path.is_file():
            return path
    return None


@functools.lru_cache(maxsize=4)
def load_spec_schemas(path: str) -> dict[str, dict]:
    """`components.schemas` of an OpenAPI file; parsed once per process (the file is 180 kB)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as fh:
        spec = yaml.load(fh, Loader=loader)
    return spec["components"]["schemas"]


@dataclass(frozen=True)
class Rule:
    """A documented constraint the OpenAPI spec leaves out."""

    max_length: int | None = None      # in UTF-16 code units, as LINE counts (FAQ: emoji = 2)
    required: bool = False
    https_only: bool = False
    schemes: tuple[str, ...] | None = None
    min_items: int | None = None
    max_items: int | None = None


_REF = "https://developers.line.biz/en/reference/messaging-api/"
_URI_SCHEMES = ("http", "https", "line", "tel")

DOCUMENTED_RULES: dict[str, dict[str, Rule]] = {
    # _REF#text-message
    "TextMessage": {"text": Rule(max_length=5000), "emojis": Rule(max_items=20)},
    # _REF#text-message-v2
    "TextMessageV2": {"text": Rule(max_length=5000)},
    # _REF#image-message, #video-message, #audio-message: HTTPS, max 2000 characters
    "ImageMessage": {"originalContentUrl": Rule(max_length=2000, https_only=True),
                     "previewImageUrl": Rule(max_length=2000, https_only=True)},
    "VideoMessage": {"originalContentUrl": Rule(max_length=2000, https_only=True),
                     "previewImageUrl": Rule(max_length=2000, https_only=True),
                     "trackingId": Rule(max_length=100)},
    "AudioMessage": {"originalContentUrl": Rule(max_length=2000, https_only=True)},
    # _REF#location-message
    "LocationMessage": {"title": Rule(max_length=100), "address": Rule(max_length=100)},
    # _REF#imagemap-message, #template-messages, #flex-message: altText limits
    "ImagemapMessage": {"altText": Rule(max_length=1500), "baseUrl": Rule(max_length=2000, https_only=True)},
    "TemplateMessage": {"altText": Rule(max_length=400)},
    "FlexMessage": {"altText": Rule(max_length=1500)},
    # _REF#buttons, #confirm, #carousel, #image-carousel
    "ButtonsTemplate": {"title": Rule(max_length=40), "text": Rule(max_length=160),
                        "actions": Rule(min_items=1, max_items=4),
                        "thumbnailImageUrl": Rule(max_length=2000, https_only=True)},
    "ConfirmTemplate": {"text": Rule(max_length=240), "actions": Rule(min_items=2, max_items=2)},
    "CarouselTemplate": {"columns": Rule(min_items=1, max_items=10)},
    "CarouselColumn": {"title": Rule(max_length=40), "text": Rule(max_length=120),
                       "actions": Rule(min_items=1, max_items=3),
                       "thumbnailImageUrl": Rule(max_length=2000, https_only=True)},
    "ImageCarouselTemplate": {"columns": Rule(min_items=1, max_items=10)},
    "ImageCarouselColumn": {"imageUrl": Rule(required=True, max_length=2000, https_only=True),
                            "action": Rule(required=True)},
    # _REF#f-carousel: max 12 bubbles
    "FlexCarousel": {"contents": Rule(min_items=1, max_items=12)},
    # _REF#f-image, #f-icon, #f-video: HTTPS, max 2000 characters
    "FlexImage": {"url": Rule(max_length=2000, https_only=True)},
    "FlexIcon": {"url": Rule(max_length=2000, https_only=True)},
    "FlexVideo": {"url": Rule(max_length=2000, https_only=True),
                  "previewUrl": Rule(max_length=2000, https_only=True)},
    # _REF#action-objects
    "PostbackAction": {"data": Rule(required=True, max_length=300), "displayText": Rule(max_length=300),
                       "text": Rule(max_length=300), "fillInText": Rule(max_length=300)},
    "MessageAction": {"text": Rule(required=True, max_length=300)},
    "URIAction": {"uri": Rule(required=True, max_length=1000, schemes=_URI_SCHEMES)},
    "DatetimePickerAction": {"data": Rule(required=True, max_length=300), "mode": Rule(required=True)},
    "ClipboardAction": {"clipboardText": Rule(max_length=1000)},
    # _REF#items-object: quick reply buttons
    "QuickReplyItem": {"action": Rule(required=True), "imageUrl": Rule(max_length=2000, https_only=True)},
    # _REF#icon-nickname-switch
    "Sender": {"iconUrl": Rule(https_only=True)},
}

# Flex components LINE accepts as a bubble's hero (_REF#bubble: "Specify a box or an image").
_HERO_TYPES = ("box", "image", "video")


@dataclass(frozen=True)
class Violation:
    path: tuple[str | int, ...]
    kind: str          # missing | length | size | enum | type | uri | range | invalid | too_large
    message: str       # the wording LINE uses outside Flex
    flex_root: tuple[str | int, ...] | None = None


def dotted(path: Iterable[str | int]) -> str:
    """`("messages", 0, "text")` → `messages[0].text` (LINE's property notation)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class SpecValidator:
    """Validates a JSON value against a named schema; `$ref`, `allOf`, `oneOf` and discriminators."""

    def __init__(self, schemas: dict[str, dict]):
        self.schemas = schemas

    def has(self, name: str) -> bool:
        return name in self.schemas

    def validate(self, name: str, value: Any) -> list[Violation]:
        out: list[Violation] = []
        self._named(name, value, (), out, frozenset(), None)
        return out

    # --- walking -----------------------------------------------------------------------------

    def _named(self, name: str, value: Any, path, out, dispatched, flex_root) -> None:
        schema = self.schemas.get(name)
        if schema is None:
            return
        disc = schema.get("discriminator")
        if disc and name not in dispatched:
            self._dispatch(name, schema, disc, value, path, out, flex_root)
            return
        dispatched = self._as_subtype(name, schema, value, path, out, dispatched, flex_root)
        self._check(schema, value, path, out, name, dispatched, flex_root)
        if isinstance(value, dict):
            self._documented(name, value, path, out, flex_root)

    def _as_subtype(self, name, schema, value, path, out, dispatched, flex_root) -> frozenset:
        """A subtype referenced directly (a bubble's `body` is a FlexBox, not any FlexComponent).

        Its discriminated bases must not dispatch again, but the `type` tag must still name it.
        """
        for part in schema.get("allOf", ()):
            base = part.get("$ref", "").rsplit("/", 1)[-1]
            disc = self.schemas.get(base, {}).get("discriminator")
            if not disc or base in dispatched:
                continue
            dispatched = dispatched | {base}
            if isinstance(value, dict):
                prop = disc["propertyName"]
                expected = [tag for tag, ref in disc.get("mapping", {}).items() if ref.rsplit("/", 1)[-1] == name]
                tag = value.get(prop)
                if tag is None or tag == "":
                    out.append(Violation(path + (prop,), "missing", "May not be empty", flex_root))
                elif expected and tag not in expected:
                    out.append(Violation(path + (prop,), "enum",
                                         f"Must be one of the following values: [{', '.join(expected)}]", flex_root))
        return dispatched

    def _dispatch(self, name, schema, disc, value, path, out, flex_root) -> None:
        if not isinstance(value, dict):
            out.append(Violation(path, "type", "Must be an object", flex_root))
            return
        prop = disc["propertyName"]
        tag = value.get(prop)
        mapping = disc.get("mapping", {})
        if tag is None or tag == "":
            out.append(Violation(path + (prop,), "missing", "May not be empty", flex_root))
            return
        target = mapping.get(tag) if isinstance(tag, str) else None
        if target is None:
            choices = ", ".join(mapping)
            # Inside Flex, LINE flags the whole component ("/footer/contents/2": "invalid property").
            where = path if flex_root is not None else path + (prop,)
            out.append(Violation(where, "enum", f"Must be one of the following values: [{choices}]", flex_root))
            return
        self._named(target.rsplit("/", 1)[-1], value, path, out, frozenset({name}), flex_root)

    def _check(self, schema, value, path, out, name, dispatched, flex_root) -> None:
        if "$ref" in schema:
            self._named(schema["$ref"].rsplit("/", 1)[-1], value, path, out, dispatched, flex_root)
            return
        for part in schema.get("allOf", ()):
            self._check(part, value, path, out, name, dispatched, flex_root)
        if "oneOf" in schema:
            self._one_of(schema["oneOf"], value, path, out, name, flex_root)
        if value is None:
            return
        kind = schema.get("type")
        if kind and not _type_ok(kind, value):
            out.append(Violation(path, "type", f"Must be {_ARTICLE.get(kind, kind)}", flex_root))
            return
        if "enum" in schema and value not in schema["enum"]:
            choices = ", ".join(str(v) for v in schema["enum"])
            out.append(Violation(path, "enum", f"Must be one of the following values: [{choices}]", flex_root))
        if isinstance(value, str):
            self._string(schema, value, path, out, flex_root)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            self._number(schema, value, path, out, flex_root)
        elif isinstance(value, list):
            self._array(schema, value, path, out, flex_root)
        elif isinstance(value, dict):
            self._object(schema, value, path, out, name, flex_root)

    def _one_of(self, options, value, path, out, name, flex_root) -> None:
        best: list[Violation] | None = None
        for option in options:
            attempt: list[Violation] = []
            self._check(option, value, path, attempt, name, frozenset(), flex_root)
            if not attempt:
                return
            if best is None or len(attempt) < len(best):
                best = attempt
        out.extend(best or ())

    def _string(self, schema, value, path, out, flex_root) -> None:
        lo, hi = schema.get("minLength"), schema.get("maxLength")
        if (lo is not None and utf16_length(value) < lo) or (hi is not None and utf16_length(value) > hi):
            out.append(Violation(path, "length", f"Length must be between {lo or 0} and {hi if hi is not None else 'unbounded'}", flex_root))
        if schema.get("format") == "uri" and value and not _uri_ok(value, None):
            out.append(Violation(path, "uri", "invalid uri", flex_root))
        pattern = schema.get("pattern")
        if pattern:
            if not re.search(pattern, value):
                out.append(Violation(path, "invalid", f"Must match {pattern}", flex_root))

    def _number(self, schema, value, path, out, flex_root) -> None:
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            out.append(Violation(path, "range", f"Must be between {lo} and {hi}", flex_root))

    def _array(self, schema, value, path, out, flex_root) -> None:
        lo, hi = schema.get("minItems"), schema.get("maxItems")
        if (lo is not None and len(value) < lo) or (hi is not None and len(value) > hi):
            out.append(Violation(path, "size", f"Size must be between {lo or 0} and {hi if hi is not None else 'unbounded'}", flex_root))
        items = schema.get("items")
        if items:
            for i, item in enumerate(value):
                self._check(items, item, path + (i,), out, None, frozenset(), flex_root)

    def _object(self, schema, value, path, out, name, flex_root) -> None:
        for prop in schema.get("required", ()):
            present = value.get(prop)
            if present is None or present == "":
                out.append(Violation(path + (prop,), "missing", "May not be empty", flex_root))
        props = schema.get("properties", {})
        for prop, sub in props.items():
            if prop not in value:
                continue
            child_root = flex_root
            if name == "FlexMessage" and prop == "contents" and flex_root is None:
                child_root = path + (prop,)
            self._check(sub, value[prop], path + (prop,), out, None, frozenset(), child_root)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, item in value.items():
                if key not in props:
                    self._check(extra, item, path + (key,), out, None, frozenset(), flex_root)

    # --- the reference's rules that the spec leaves out --------------------------------------

    def _documented(self, name: str, value: dict, path, out, flex_root) -> None:
        for prop, rule in DOCUMENTED_RULES.get(name, {}).items():
            present = value.get(prop)
            if present is None or present == "":
                if rule.required:
                    out.append(Violation(path + (prop,), "missing", "May not be empty", flex_root))
                continue
            here = path + (prop,)
            if isinstance(present, str):
                if rule.max_length is not None and utf16_length(present) > rule.max_length:
                    out.append(Violation(here, "length", f"Length must be between 0 and {rule.max_length}", flex_root))
                if rule.https_only and not _uri_ok(present, ("https",)):
                    out.append(Violation(here, "uri", "invalid uri scheme", flex_root))
                elif rule.schemes and not _uri_ok(present, rule.schemes):
                    out.append(Violation(here, "uri", "invalid uri scheme", flex_root))
            elif isinstance(present, list):
                lo, hi = rule.min_items, rule.max_items
                if (lo is not None and len(present) < lo) or (hi is not None and len(present) > hi):
                    out.append(Violation(here, "size", f"Size must be between {lo or 0} and {hi}", flex_root))
        if name == "FlexText" and not value.get("text") and not value.get("contents"):
            # _REF#f-text: `text` is required unless `contents` (spans) is given.
            out.append(Violation(path + ("text",), "missing", "May not be empty", flex_root))
        if name == "FlexButton" and isinstance(value.get("action"), dict):
            label = value["action"].get("label")
            # _REF#button: the action's label is required for a button component, max 40 characters.
            if not label:
                out.append(Violation(path + ("action", "label"), "missing", "May not be empty", flex_root))
            elif isinstance(label, str) and utf16_length(label) > 40:
                out.append(Violation(path + ("action", "label"), "length", "Length must be between 0 and 40", flex_root))
        if name == "FlexBubble":
            hero = value.get("hero")
            if isinstance(hero, dict) and hero.get("type") not in _HERO_TYPES:
                out.append(Violation(path + ("hero",), "invalid", "invalid property", flex_root))
        if name in ("FlexBubble", "FlexCarousel") and path and path[-1] == "contents" and flex_root == path:
            limit = FLEX_BUBBLE_MAX_BYTES if name == "FlexBubble" else FLEX_CAROUSEL_MAX_BYTES
            size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
            if size > limit:
                out.append(Violation(path, "too_large",
                                     f"Too large flex message. The maximum size of JSON data that defines a "
                                     f"{'bubble' if name == 'FlexBubble' else 'carousel'} is {limit // 1024} KB.",
                                     flex_root))


_ARTICLE = {"object": "an object", "array": "an array", "string": "a string", "integer": "an integer",
            "number": "a number", "boolean": "a boolean"}


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return True


def _uri_ok(value: str, schemes: tuple[str, ...] | None) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    if not parts.scheme:
        return False
    if schemes is not None and parts.scheme.lower() not in schemes:
        return False
    if parts.scheme.lower() in ("http", "https") and not parts.netloc:
        return False
    return True


def line_error_body(violations: list[Violation]) -> dict:
    """Turn violations into the body LINE would answer with (see the module docstring)."""
    plain = [v for v in violations if v.flex_root is None]
    if plain:
        typed = [v for v in plain if v.kind == "type"]
        if typed:
            # LINE's JSON binding fails before bean validation and names just that property.
            return {"message": f"The property, {dotted(typed[0].path)}, in the request body is invalid"}
        return {
            "message": f"The request body has {len(plain)} error(s)",
            "details": [{"message": v.message, "property": dotted(v.path)} for v in plain],
        }
    first_root = violations[0].flex_root
    assert first_root is not None
    same = [v for v in violations if v.flex_root == first_root]
    message_path = first_root[:-1]
    details = []
    for v in same:
        rel = v.path[len(first_root):]
        pointer = "/" + "/".join(str(p) for p in rel)
        details.append({"message": _flex_wording(v), "property": pointer})
    return {"message": f"A message ({dotted(message_path)}) in the request body is invalid", "details": details}


def _flex_wording(v: Violation) -> str:
    if v.kind == "missing":
        return "must be specified"
    if v.kind == "uri":
        return "invalid uri scheme"
    if v.kind == "too_large":
        return v.message
    return "invalid property"


def _obj(required: list[str] | None = None, **props: dict) -> dict:
    return {"type": "object", "required": required or [], "properties": props}


def _sub(base: str, required: list[str], **props: dict) -> dict:
    return {"allOf": [{"$ref": f"#/components/schemas/{base}"}, _obj(None, **props)], "required": required,
            "type": "object"}


_S = {"type": "string"}
_MESSAGES = {"type": "array", "minItems": 1, "maxItems": 5, "items": {"$ref": "#/components/schemas/Message"}}

# A light structural stand-in for the spec, used only when messaging-api.yml is not found.
FALLBACK_SCHEMAS: dict[str, dict] = {
    "ReplyMessageRequest": _obj(["replyToken", "messages"], replyToken=_S, messages=_MESSAGES,
                                notificationDisabled={"type": "boolean"}),
    "PushMessageRequest": _obj(["to", "messages"], to=_S, messages=_MESSAGES,
                               notificationDisabled={"type": "boolean"}),
    "MulticastRequest": _obj(["to", "messages"], to={"type": "array", "maxItems": 500, "minItems": 1, "items": _S},
                             messages=_MESSAGES),
    "BroadcastRequest": _obj(["messages"], messages=_MESSAGES),
    "ValidateMessageRequest": _obj(["messages"], messages=_MESSAGES),
    "ShowLoadingAnimationRequest": _obj(["chatId"], chatId=_S,
                                        loadingSeconds={"type": "integer", "minimum": 5, "maximum": 60}),
    "MarkMessagesAsReadByTokenRequest": _obj(["markAsReadToken"], markAsReadToken=_S),
    "MarkMessagesAsReadRequest": _obj(["chat"], chat=_obj(["userId"], userId=_S)),
    "Message": {
        "type": "object", "required": ["type"], "properties": {"type": _S},
        "discriminator": {"propertyName": "type", "mapping": {
            name: f"#/components/schemas/{schema}" for name, schema in {
                "text": "TextMessage", "textV2": "TextMessageV2", "sticker": "StickerMessage",
                "image": "ImageMessage", "video": "VideoMessage", "audio": "AudioMessage",
                "location": "LocationMessage", "imagemap": "ImagemapMessage", "template": "TemplateMessage",
                "flex": "FlexMessage", "coupon": "CouponMessage"}.items()}},
    },
    "TextMessage": _sub("Message", ["text"], text=_S),
    "TextMessageV2": _sub("Message", ["text"], text=_S),
    "StickerMessage": _sub("Message", ["packageId", "stickerId"], packageId=_S, stickerId=_S),
    "ImageMessage": _sub("Message", ["originalContentUrl", "previewImageUrl"], originalContentUrl=_S,
                         previewImageUrl=_S),
    "VideoMessage": _sub("Message", ["originalContentUrl", "previewImageUrl"], originalContentUrl=_S,
                         previewImageUrl=_S),
    "AudioMessage": _sub("Message", ["originalContentUrl", "duration"], originalContentUrl=_S,
                         duration={"type": "integer"}),
    "LocationMessage": _sub("Message", ["title", "address", "latitude", "longitude"], title=_S, address=_S,
                            latitude={"type": "number"}, longitude={"type": "number"}),
    "ImagemapMessage": _sub("Message", ["baseUrl", "altText", "baseSize", "actions"], baseUrl=_S, altText=_S,
                            baseSize={"type": "object"}, actions={"type": "array"}),
    "TemplateMessage": _sub("Message", ["altText", "template"], altText=_S,
                            template=_obj(["type"], type=_S)),
    "FlexMessage": _sub("Message", ["altText", "contents"], altText=_S,
                        contents={"$ref": "#/components/schemas/FlexContainer"}),
    "CouponMessage": _sub("Message", ["couponId"], couponId=_S),
    "FlexContainer": {
        "type": "object", "required": ["type"], "properties": {"type": _S},
        "discriminator": {"propertyName": "type", "mapping": {
            "bubble": "#/components/schemas/FlexBubble", "carousel": "#/components/schemas/FlexCarousel"}},
    },
    "FlexBubble": {"allOf": [{"$ref": "#/components/schemas/FlexContainer"}], "type": "object"},
    "FlexCarousel": {"allOf": [{"$ref": "#/components/schemas/FlexContainer"},
                               _obj(["contents"], contents={"type": "array", "items": {
                                   "$ref": "#/components/schemas/FlexContainer"}})], "type": "object"},
}


def build_validator(spec_path: str | os.PathLike | None) -> tuple[SpecValidator, bool]:
    """(validator, True) from the spec file, or (fallback validator, False) when there is none."""
    if spec_path is not None and Path(spec_path).is_file():
        return SpecValidator(load_spec_schemas(str(Path(spec_path).resolve()))), True
    return SpecValidator(FALLBACK_SCHEMAS), False
