"""The gRPC API (rewardgate.v1.RewardService) on grpc.aio, in the HTTP server's process.

It calls the same RewardCore as HTTP. Request-level errors end a call with
the error's status code (INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED,
UNAVAILABLE, DEADLINE_EXCEEDED) and an ``RpcStatus`` carrying the typed
``ErrorDetail`` in the ``grpc-status-details-bin`` trailer. The caller's gRPC
deadline bounds the request deadline. The standard health service reports
SERVING only while every source is ready; server reflection is on. A message
that does not parse (garbage bytes, invalid UTF-8 in a string field) is
INVALID_ARGUMENT with the typed detail, never UNKNOWN.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import grpc
from google.protobuf import any_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from rewardgate_client.v1 import reward_pb2 as pb
from rewardgate_client.v1 import reward_pb2_grpc

from rewardgate.api.context import AppContext
from rewardgate.api.grpc import codec as convert
from rewardgate.api.grpc.stream import StreamSession, Undecodable, error_detail
from rewardgate.api.status import grpc_code
from rewardgate.auth.caller import bearer_token, current_key
from rewardgate.auth.keys import KeyRing
from rewardgate.errors import InvalidInput, RewardgateError, Unauthenticated

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["RewardService"].full_name
DETAILS_KEY = "grpc-status-details-bin"


async def abort_with(context: grpc.aio.ServicerContext, exc: RewardgateError) -> None:
    code = grpc.StatusCode[grpc_code(exc)]
    packed = any_pb2.Any()
    packed.Pack(error_detail(exc))
    status = pb.RpcStatus(code=code.value[0], message=exc.message, details=[packed])
    await context.abort(code, exc.message, trailing_metadata=((DETAILS_KEY, status.SerializeToString()),))


class RewardService(reward_pb2_grpc.RewardServiceServicer):
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def Score(self, request: pb.ScoreRequest, context: grpc.aio.ServicerContext) -> pb.ScoreResponse:
        body = _deferred(convert.score_call, request, context)
        response = await self._unary(context, "grpc:Score", _pipeline(request), self.ctx.core.score, body)
        return convert.score_response(response)

    async def Compare(
        self, request: pb.CompareRequest, context: grpc.aio.ServicerContext
    ) -> pb.CompareResponse:
        body = _deferred(convert.compare_call, request, context)
        core = self.ctx.core
        response = await self._unary(context, "grpc:Compare", _pipeline(request), core.compare, body)
        return convert.compare_response(response)

    async def _unary(self, context: grpc.aio.ServicerContext, route: str, pipeline: str, call, body):
        """Convert, call the scorer and time it like HTTP; a RewardgateError ends the call with its status."""
        try:
            with self.ctx.observe(route, pipeline):
                response, _ = await call(body())
        except RewardgateError as exc:
            await abort_with(context, exc)
        return response

    async def ListPipelines(self, request, context) -> pb.ListPipelinesResponse:
        return convert.pipelines_response(self.ctx.core.pipelines())

    async def ScoreStream(
        self, request_iterator: AsyncIterator[pb.StreamRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamResult]:
        # An async generator itself: grpc.aio picks the streaming handler by inspecting the method.
        async for answer in StreamSession(self.ctx, context).run(request_iterator):
            yield answer


def _pipeline(request) -> str:
    """The metric label: the named pipeline, or none for a message that did not parse."""
    return "" if isinstance(request, Undecodable) else request.pipeline


def _deferred(converter, request, context):
    """The request's conversion, run inside the call's error handling (it raises InvalidInput)."""

    def convert_now():
        if isinstance(request, Undecodable):
            raise InvalidInput(f"the request message does not parse: {request.reason}")
        return converter(request, context.time_remaining())

    return convert_now


def _lenient(message_cls):
    """A deserializer that hands an unparseable message to the handler as :class:`Undecodable`
    (grpc.aio would end the call UNKNOWN with a Python class name)."""

    def parse(data: bytes):
        try:
            return message_cls.FromString(data)
        except Exception as exc:  # protobuf's DecodeError and the C parser's own errors
            return Undecodable(str(exc)[:200] or type(exc).__name__)

    return parse


def add_reward_service(servicer: RewardService, server: grpc.aio.Server, keyring: KeyRing) -> None:
    """Like the generated ``add_RewardServiceServicer_to_server``, with lenient deserializers,
    and every method behind the API key check when ``keyring`` has keys."""
    guard = _Authenticator(keyring, servicer.ctx.metrics) if keyring.enabled else None

    def unary(method, request_cls, response_cls):
        return grpc.unary_unary_rpc_method_handler(
            guard.unary(method) if guard else method,
            request_deserializer=_lenient(request_cls),
            response_serializer=response_cls.SerializeToString,
        )

    handlers = {
        "Score": unary(servicer.Score, pb.ScoreRequest, pb.ScoreResponse),
        "Compare": unary(servicer.Compare, pb.CompareRequest, pb.CompareResponse),
        "ListPipelines": unary(servicer.ListPipelines, pb.ListPipelinesRequest, pb.ListPipelinesResponse),
        "ScoreStream": grpc.stream_stream_rpc_method_handler(
            guard.stream(servicer.ScoreStream) if guard else servicer.ScoreStream,
            request_deserializer=_lenient(pb.StreamRequest),
            response_serializer=pb.StreamResult.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))


class _Authenticator:
    """Checks ``authorization: Bearer KEY`` metadata; health and reflection stay open."""

    def __init__(self, keyring: KeyRing, metrics) -> None:
        self.keyring = keyring
        self.metrics = metrics

    async def _admit(self, context: grpc.aio.ServicerContext, method) -> None:
        metadata = dict(context.invocation_metadata() or ())
        token = bearer_token(metadata.get("authorization"))
        key = self.keyring.authenticate(token)
        if key is None:
            reason = "missing" if token is None else "invalid"
            self.metrics.auth_failures.labels("grpc", reason).inc()
            # Refused before the method runs, so counted here, like HTTP's 401s.
            self.metrics.requests.labels(f"grpc:{method.__name__}", "unknown", "401").inc()
            message = f"{reason} API key: send metadata 'authorization: Bearer KEY'"
            await abort_with(context, Unauthenticated(message))
        current_key.set(key)  # each call runs in its own task: its own context

    def unary(self, method):
        async def checked(request, context):
            await self._admit(context, method)
            return await method(request, context)

        return checked

    def stream(self, method):
        async def checked(request_iterator, context):
            await self._admit(context, method)
            async for answer in method(request_iterator, context):
                yield answer

        return checked


async def start_grpc_server(
    ctx: AppContext, port: int, host: str, max_message_bytes: int, keyring: KeyRing
) -> grpc.aio.Server:
    server = grpc.aio.server(
        options=[
            # Fail loudly on a taken port instead of silently sharing it with another process.
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
    )
    add_reward_service(RewardService(ctx), server, keyring)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
        server,
    )
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:  # grpcio raises when no address could be bound
        bound = 0
    if bound == 0:
        raise OSError(
            f"cannot bind the gRPC port {host}:{port}; "
            "choose another with REWARDGATE_GRPC_PORT (0 disables gRPC)"
        )
    await server.start()
    server.health_servicer = health_servicer
    server.health_task = asyncio.create_task(_report_health(ctx, health_servicer), name="grpc-health")
    log.info("gRPC listening on %s:%d", host, bound)
    return server


def stop_grpc_server(server: grpc.aio.Server, grace_s: float) -> asyncio.Future:
    """Start stopping at once: health NOT_SERVING, new calls refused, in-flight calls get
    ``grace_s``. Returns a future to await; safe to await more than once."""
    server.health_task.cancel()

    async def stop() -> None:
        for name in ("", SERVICE_NAME):
            await server.health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await server.stop(grace_s)

    return asyncio.ensure_future(stop())


async def _report_health(ctx: AppContext, servicer) -> None:
    """Mirror /readyz: SERVING once every source is ready, NOT_SERVING otherwise."""
    serving, not_serving = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
    while True:
        status = not_serving if ctx.core.readiness() else serving
        for name in ("", SERVICE_NAME):
            await servicer.set(name, status)
        await asyncio.sleep(0.5)
