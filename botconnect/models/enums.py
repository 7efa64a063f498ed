"""String enumerations of the Bot Framework protocol.

Values are the union of the Connector v3.0 and v3.1 Swagger documents and the Activity specification. Every
model field that uses one is typed ``EnumName | str | None``: known wire values parse to the member, values the
SDK does not know yet stay plain strings, and both serialize back unchanged. Members compare equal to their
wire strings (``ActivityTypes.MESSAGE == "message"``).
"""

import enum

__all__ = [
    "ActionTypes",
    "ActivityImportance",
    "ActivityTypes",
    "AttachmentLayoutTypes",
    "ContactRelationUpdateActionTypes",
    "DeliveryModes",
    "EndOfConversationCodes",
    "InputHints",
    "InstallationUpdateActionTypes",
    "MessageReactionTypes",
    "RoleTypes",
    "SemanticActionStates",
    "TextFormatTypes",
]


class ActivityTypes(enum.StrEnum):
    """The kind of an activity (its ``type`` field)."""

    MESSAGE = "message"
    CONTACT_RELATION_UPDATE = "contactRelationUpdate"
    CONVERSATION_UPDATE = "conversationUpdate"
    TYPING = "typing"
    END_OF_CONVERSATION = "endOfConversation"
    EVENT = "event"
    INVOKE = "invoke"
    DELETE_USER_DATA = "deleteUserData"
    MESSAGE_UPDATE = "messageUpdate"
    MESSAGE_DELETE = "messageDelete"
    INSTALLATION_UPDATE = "installationUpdate"
    MESSAGE_REACTION = "messageReaction"
    SUGGESTION = "suggestion"
    TRACE = "trace"
    HANDOFF = "handoff"
    COMMAND = "command"
    COMMAND_RESULT = "commandResult"


class ActionTypes(enum.StrEnum):
    """What a card action or suggested action does when the user activates it."""

    OPEN_URL = "openUrl"
    IM_BACK = "imBack"
    POST_BACK = "postBack"
    PLAY_AUDIO = "playAudio"
    PLAY_VIDEO = "playVideo"
    SHOW_IMAGE = "showImage"
    DOWNLOAD_FILE = "downloadFile"
    SIGNIN = "signin"
    CALL = "call"
    PAYMENT = "payment"
    MESSAGE_BACK = "messageBack"


class AttachmentLayoutTypes(enum.StrEnum):
    """How a client lays out several attachments of one message."""

    LIST = "list"
    CAROUSEL = "carousel"


class ActivityImportance(enum.StrEnum):
    """Relative importance hint of an activity."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class ContactRelationUpdateActionTypes(enum.StrEnum):
    """The ``action`` of a contactRelationUpdate activity."""

    ADD = "add"
    REMOVE = "remove"


class DeliveryModes(enum.StrEnum):
    """Alternate delivery path requested for an activity or its responses."""

    NORMAL = "normal"
    NOTIFICATION = "notification"
    EPHEMERAL = "ephemeral"
    EXPECT_REPLIES = "expectReplies"


class EndOfConversationCodes(enum.StrEnum):
    """Why a conversation ended (the ``code`` of an endOfConversation activity)."""

    UNKNOWN = "unknown"
    COMPLETED_SUCCESSFULLY = "completedSuccessfully"
    USER_CANCELLED = "userCancelled"
    BOT_TIMED_OUT = "botTimedOut"
    BOT_ISSUED_INVALID_MESSAGE = "botIssuedInvalidMessage"
    CHANNEL_FAILED = "channelFailed"


class InputHints(enum.StrEnum):
    """Whether the sender of an activity expects the user to answer."""

    ACCEPTING_INPUT = "acceptingInput"
    IGNORING_INPUT = "ignoringInput"
    EXPECTING_INPUT = "expectingInput"


class InstallationUpdateActionTypes(enum.StrEnum):
    """The ``action`` of an installationUpdate activity."""

    ADD = "add"
    REMOVE = "remove"


class MessageReactionTypes(enum.StrEnum):
    """Kind of social reaction on a message."""

    LIKE = "like"
    PLUS_ONE = "plusOne"


class RoleTypes(enum.StrEnum):
    """Whether a channel account is a user, a bot or a skill."""

    USER = "user"
    BOT = "bot"
    SKILL = "skill"


class SemanticActionStates(enum.StrEnum):
    """Lifecycle stage of a semantic action."""

    START = "start"
    CONTINUE = "continue"
    DONE = "done"


class TextFormatTypes(enum.StrEnum):
    """Markup used by an activity's ``text`` field."""

    MARKDOWN = "markdown"
    PLAIN = "plain"
    XML = "xml"
