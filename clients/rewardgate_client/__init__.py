"""Client for rewardgate: ``RewardClient`` / ``AsyncRewardClient`` over HTTP or gRPC."""

from rewardgate_client.client import AsyncRewardClient, RewardClient
from rewardgate_client.errors import (
    BackendUnavailable,
    ConnectionFailed,
    DeadlineExceeded,
    InvalidInput,
    ItemFailed,
    Overloaded,
    PayloadTooLarge,
    PipelineNotFound,
    RewardgateError,
    ServiceNotReady,
    Unauthenticated,
)
from rewardgate_client.retry import RetryPolicy
from rewardgate_client.types import CompareResult, Item, ItemError, Result

__all__ = [
    "AsyncRewardClient",
    "BackendUnavailable",
    "CompareResult",
    "ConnectionFailed",
    "DeadlineExceeded",
    "InvalidInput",
    "Item",
    "ItemError",
    "ItemFailed",
    "Overloaded",
    "PayloadTooLarge",
    "PipelineNotFound",
    "Result",
    "RetryPolicy",
    "RewardClient",
    "RewardgateError",
    "ServiceNotReady",
    "Unauthenticated",
]
