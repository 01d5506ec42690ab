"""The gRPC API (rewardgate.v1.RewardService) on grpc.aio, in the HTTP server's process.

It calls the same RewardScorer as HTTP. Request-level errors end a call with
the error's status code (INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED,
UNAVAILABLE, DEADLINE_EXCEEDED) and an ``RpcStatus`` carrying the typed
``ErrorDetail`` in the ``grpc-status-details-bin`` trailer. The caller's gRPC
deadline bounds the request deadline. The standard health service reports
SERVING only while every source is ready; server reflection is on.
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

from service.api import grpc_convert as convert
from service.api.context import AppContext
from service.api.grpc_stream import StreamSession, error_detail
from service.api.http import describe_pipelines
from service.errors import RewardgateError

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["RewardService"].full_name
DETAILS_KEY = "grpc-status-details-bin"


async def abort_with(context: grpc.aio.ServicerContext, exc: RewardgateError) -> None:
    code = grpc.StatusCode[exc.grpc_code]
    packed = any_pb2.Any()
    packed.Pack(error_detail(exc))
    status = pb.RpcStatus(code=code.value[0], message=exc.message, details=[packed])
    await context.abort(code, exc.message, trailing_metadata=((DETAILS_KEY, status.SerializeToString()),))


class RewardService(reward_pb2_grpc.RewardServiceServicer):
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def Score(self, request: pb.ScoreRequest, context: grpc.aio.ServicerContext) -> pb.ScoreResponse:
        body = _deferred(convert.score_request, request, context)
        response = await self._unary(context, "grpc:Score", request.pipeline, self.ctx.scorer.score, body)
        return convert.score_response(response)

    async def Compare(
        self, request: pb.CompareRequest, context: grpc.aio.ServicerContext
    ) -> pb.CompareResponse:
        body = _deferred(convert.compare_request, request, context)
        response = await self._unary(context, "grpc:Compare", request.pipeline, self.ctx.scorer.compare, body)
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
        return convert.pipelines_response(describe_pipelines(self.ctx.scorer.runtime))

    async def ScoreStream(
        self, request_iterator: AsyncIterator[pb.StreamRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamResult]:
        # An async generator itself: grpc.aio picks the streaming handler by inspecting the method.
        async for answer in StreamSession(self.ctx, context).run(request_iterator):
            yield answer


def _deferred(converter, request, context):
    """The request's conversion, run inside the call's error handling (it raises InvalidInput)."""
    return lambda: converter(request, context.time_remaining())


async def start_grpc_server(ctx: AppContext, port: int, host: str, max_message_bytes: int) -> grpc.aio.Server:
    server = grpc.aio.server(
        options=[
            # Fail loudly on a taken port instead of silently sharing it with another process.
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
    )
    reward_pb2_grpc.add_RewardServiceServicer_to_server(RewardService(ctx), server)
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
    server.health_task = asyncio.create_task(_report_health(ctx, health_servicer), name="grpc-health")
    log.info("gRPC listening on %s:%d", host, bound)
    return server


async def stop_grpc_server(server: grpc.aio.Server, grace_s: float = 5.0) -> None:
    server.health_task.cancel()
    await server.stop(grace_s)


async def _report_health(ctx: AppContext, servicer) -> None:
    """Mirror /readyz: SERVING once every source is ready, NOT_SERVING otherwise."""
    serving, not_serving = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
    while True:
        status = not_serving if ctx.scorer.runtime.readiness() else serving
        for name in ("", SERVICE_NAME):
            await servicer.set(name, status)
        await asyncio.sleep(0.5)
