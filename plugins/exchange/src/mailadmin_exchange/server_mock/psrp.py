"""The PowerShell Remoting Protocol, server side: shells, pipelines and their messages.

Built from pypsrp's own protocol classes: incoming fragments are read by its
``Fragment`` and deserialised by its ``Serializer`` (a ``CREATE_PIPELINE`` arrives as its
``CreatePipeline`` object), outgoing messages are its ``Message``/``Fragment`` packing of
its ``SessionCapability``, ``RunspacePoolStateMessage``, ``PipelineState``,
``ErrorRecordMessage`` and ``WarningRecord`` objects. What MS-PSRP fixes and this module
follows: a message header is little-endian with destination 1 (client) for what the
server sends; fragments are big-endian, object ids unique per pool and counted from 1;
a blob is at most 32,768 bytes (2.2.4); the pool opens with SESSION_CAPABILITY,
APPLICATION_PRIVATE_DATA and RUNSPACEPOOL_STATE Opened (3.2.5.4.1-2); a pipeline answers
with its outputs and records and ends with exactly one PIPELINE_STATE (3.2.5.4.21).
"""

from __future__ import annotations

import struct
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pypsrp.complex_objects import Command, GenericComplexObject, ObjectMeta
from pypsrp.messages import (
    ApplicationPrivateData,
    CreatePipeline,
    Destination,
    Message,
    MessageType,
    PipelineState,
    RunspacePoolStateMessage,
    SessionCapability,
)
from pypsrp.powershell import Fragment
from pypsrp.serializer import Serializer

__all__ = ["PipelineRun", "Shell", "ShellCommand"]

#: MS-PSRP 2.2.4: the largest blob a fragment carries.
_MAX_BLOB = 32768
#: RunspacePoolState (2.2.3.4) and PSInvocationState (2.2.3.5) values the mock sends.
OPENED = 2
COMPLETED = 4
FAILED = 5
STOPPED = 3


@dataclass(frozen=True)
class ShellCommand:
    """One command of a pipeline as the client sent it: the cmdlet, whether it is a
    script, its named parameters (a switch is ``True``) and its positional arguments."""

    name: str
    is_script: bool
    parameters: dict[str, Any]
    arguments: list[Any]
    end_of_statement: bool


@dataclass
class PipelineRun:
    """What running a pipeline produced, in the order PSRP sends it."""

    #: ``(message type, payload)``: outputs, error and warning records.
    records: list[tuple[int, Any]] = field(default_factory=list)
    #: A terminating error (an ``ErrorRecord``) makes the pipeline Failed.
    failure: Any = None


Runner = Callable[["Shell", list[ShellCommand]], PipelineRun]


class _Create(CreatePipeline):
    """CREATE_PIPELINE read without its host information: the mock has no host, and
    pypsrp's ``HostInfo`` is built for writing only."""

    def __init__(self) -> None:
        super().__init__()
        self._extended_properties = tuple(
            p for p in self._extended_properties if p[0] != "host_info"
        )


class _Output(GenericComplexObject):
    """An output object, typed as the PIPELINE_OUTPUT message pypsrp's ``Message`` packs."""

    MESSAGE_TYPE = MessageType.PIPELINE_OUTPUT


class _Primitive:
    """A primitive output value (a string from ``Out-String``), packed by hand: pypsrp's
    ``Message`` serialises only objects."""

    MESSAGE_TYPE = MessageType.PIPELINE_OUTPUT

    def __init__(self, value: Any) -> None:
        self.value = value


@dataclass
class _Pipeline:
    command_id: str
    pid: str
    queue: list[bytes] = field(default_factory=list)
    finished: bool = False


class Shell:
    """One runspace pool: its id, the user who opened it, and what waits to be received."""

    def __init__(self, shell_id: str, user: str, creation: bytes, runner: Runner) -> None:
        self.shell_id = shell_id.upper()
        self.user = user
        self._serializer = Serializer()
        self._partial: dict[int, bytes] = {}
        self._object_id = 0
        self._runner = runner
        self._pool_queue: list[bytes] = []
        self._pipelines: dict[str, _Pipeline] = {}
        self.protocol_version = "2.3"
        for message_type, _, xml in self._messages(creation):
            if message_type == MessageType.SESSION_CAPABILITY:
                capability = self._serializer.deserialize(
                    xml, ObjectMeta("Obj", object=SessionCapability)
                )
                self.protocol_version = str(capability.protocol_version or "2.3")
        self.rpid = self.shell_id
        self._queue_pool(
            SessionCapability("2.3", "2.0", "1.1.0.1"),
            ApplicationPrivateData({}),
            RunspacePoolStateMessage(OPENED),
        )

    # -- WS-Man operations ----------------------------------------------------------------

    def command(self, command_id: str, arguments: bytes) -> None:
        """A Command: the first fragments of a CREATE_PIPELINE (the rest may follow in
        Send); the pipeline runs once the message is complete."""
        pipeline = _Pipeline(command_id=command_id.upper(), pid=command_id)
        self._pipelines[pipeline.command_id] = pipeline
        self.send(pipeline.command_id, arguments)

    def send(self, command_id: str | None, data: bytes) -> None:
        """Send on ``stdin``/``pr``: more fragments, for a pipeline or for the pool."""
        for message_type, _, xml in self._messages(data):
            if message_type == MessageType.CREATE_PIPELINE and command_id:
                create = self._serializer.deserialize(xml, ObjectMeta("Obj", object=_Create))
                self._run(self._pipelines[command_id.upper()], create)
            # Other client messages (pipeline input, host responses, key exchange) are
            # accepted and ignored: the Exchange endpoint's sessions have no host.

    def has_pipeline(self, command_id: str) -> bool:
        """Whether the shell knows this command."""
        return command_id.upper() in self._pipelines

    def receive(self, command_id: str | None) -> tuple[bytes, bool]:
        """What waits for the pool (``None``) or a pipeline, and whether that pipeline is
        done (its PIPELINE_STATE is in this answer)."""
        if command_id is None:
            data, self._pool_queue = b"".join(self._pool_queue), []
            return data, False
        pipeline = self._pipelines[command_id.upper()]
        data, pipeline.queue = b"".join(pipeline.queue), []
        return data, pipeline.finished

    def signal(self, command_id: str, code: str) -> None:
        """Terminate or ctrl_c: the pipeline goes (stopped if it had not finished)."""
        pipeline = self._pipelines.pop(command_id.upper(), None)
        if pipeline is not None and not pipeline.finished and code.endswith("ctrl_c"):
            pipeline.finished = True

    @property
    def pipelines(self) -> int:
        """Pipelines not yet terminated by a signal."""
        return len(self._pipelines)

    def _messages(self, data: bytes) -> list[tuple[int, str, str]]:
        """Complete messages in ``data`` (type, pipeline id, XML); partial ones are kept
        by object id until their end fragment arrives (MS-PSRP 2.2.4)."""
        complete = []
        while data:
            fragment, data = Fragment.unpack(data)
            blob = (
                fragment.data
                if fragment.start
                else self._partial.pop(fragment.object_id, b"") + fragment.data
            )
            if not fragment.end:
                self._partial[fragment.object_id] = blob
                continue
            message_type = struct.unpack("<I", blob[4:8])[0]
            pid = str(uuid.UUID(bytes_le=blob[24:40]))
            body = blob[40:]
            if body.startswith(b"\xef\xbb\xbf"):
                body = body[3:]
            complete.append((message_type, pid, body.decode("utf-8")))
        return complete

    # -- running --------------------------------------------------------------------------

    def _run(self, pipeline: _Pipeline, create: CreatePipeline) -> None:
        commands = [_command(c) for c in (create.pipeline.commands or [])]
        run = self._runner(self, commands)
        for message_type, payload in run.records:
            pipeline.queue.extend(self._fragments(message_type, pipeline.pid, payload))
        if run.failure is not None:
            state = PipelineState(FAILED, run.failure)
        else:
            state = PipelineState(COMPLETED)
        pipeline.queue.extend(self._fragments(MessageType.PIPELINE_STATE, pipeline.pid, state))
        pipeline.finished = True

    def _queue_pool(self, *payloads: Any) -> None:
        for payload in payloads:
            self._pool_queue.extend(self._fragments(payload.MESSAGE_TYPE, None, payload))

    def _fragments(self, message_type: int, pid: str | None, payload: Any) -> list[bytes]:
        data = self._pack(message_type, pid, payload)
        self._object_id += 1
        chunks = [data[i : i + _MAX_BLOB] for i in range(0, len(data), _MAX_BLOB)] or [b""]
        return [
            Fragment(self._object_id, n, chunk, n == 0, n == len(chunks) - 1).pack()
            for n, chunk in enumerate(chunks)
        ]

    def _pack(self, message_type: int, pid: str | None, payload: Any) -> bytes:
        if message_type == MessageType.PIPELINE_OUTPUT and not isinstance(payload, _Output):
            element = self._serializer.serialize(payload)
            body = ET.tostring(element, encoding="utf-8") if element is not None else b""
            rpid = uuid.UUID(self.rpid).bytes_le
            pid_bytes = uuid.UUID(pid).bytes_le if pid else b"\0" * 16
            head = struct.pack("<II", Destination.CLIENT, message_type)
            return head + rpid + pid_bytes + _without_declaration(body)
        return Message(Destination.CLIENT, self.rpid, pid, payload, self._serializer).pack()


def output(value: Any) -> tuple[int, Any]:
    """A PIPELINE_OUTPUT record: a :class:`GenericComplexObject` or a primitive."""
    if isinstance(value, GenericComplexObject) and not isinstance(value, _Output):
        wrapped = _Output()
        wrapped.types = value.types
        wrapped.to_string = value.to_string
        wrapped.adapted_properties = value.adapted_properties
        wrapped.extended_properties = value.extended_properties
        wrapped.property_sets = value.property_sets
        return MessageType.PIPELINE_OUTPUT, wrapped
    return MessageType.PIPELINE_OUTPUT, value


def _without_declaration(body: bytes) -> bytes:
    if body.startswith(b"<?xml"):
        return body[body.index(b"?>") + 2 :].lstrip()
    return body


def _command(command: Command) -> ShellCommand:
    parameters: dict[str, Any] = {}
    arguments: list[Any] = []
    for parameter in command.args or []:
        if parameter.name is None:
            arguments.append(parameter.value)
        else:
            # pypsrp sends a switch as a name with a null value (MS-PSRP 2.2.3.13).
            parameters[str(parameter.name)] = True if parameter.value is None else parameter.value
    return ShellCommand(
        name=str(command.cmd or ""),
        is_script=bool(command.is_script),
        parameters=parameters,
        arguments=arguments,
        end_of_statement=bool(command.end_of_statement),
    )


def statements(commands: Sequence[ShellCommand]) -> list[list[ShellCommand]]:
    """The commands split into statements (``add_statement()`` on the client)."""
    result: list[list[ShellCommand]] = [[]]
    for command in commands:
        result[-1].append(command)
        if command.end_of_statement:
            result.append([])
    return [s for s in result if s]
