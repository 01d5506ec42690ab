"""Group ownership over replicas: every replica computes the same owner from the same list."""

import asyncio
from collections import Counter

from rewardgate.groups.peers import Peers, owner_of

PEERS = ["http://10.0.0.1:8000", "http://10.0.0.2:8000", "http://10.0.0.3:8000"]


def test_owner_is_the_same_whatever_the_list_order_and_spreads_groups():
    owners = [owner_of(f"g{n}", PEERS) for n in range(300)]
    assert owners == [owner_of(f"g{n}", list(reversed(PEERS))) for n in range(300)]
    assert min(Counter(owners).values()) > 60  # roughly a third each


def test_a_replica_leaving_moves_only_its_own_groups():
    before = {f"g{n}": owner_of(f"g{n}", PEERS) for n in range(300)}
    after = {g: owner_of(g, PEERS[:2]) for g in before}
    assert all(after[g] == owner for g, owner in before.items() if owner != PEERS[2])


def test_self_is_found_by_port_on_a_local_address_or_named():
    peers = Peers("http://127.0.0.1:8001, http://127.0.0.1:8002/", port=8002)
    assert peers.urls() == ["http://127.0.0.1:8001", "http://127.0.0.1:8002"]
    assert peers.is_self("http://127.0.0.1:8002") and not peers.is_self("http://127.0.0.1:8001")
    named = Peers(",".join(PEERS), port=8000, self_url="http://10.0.0.2:8000/")
    assert named.is_self("http://10.0.0.2:8000") and not named.is_self(PEERS[0])


def test_a_headless_service_resolves_to_its_addresses_and_nothing_when_unknown():
    async def run():
        found = Peers("dns://localhost:8000", port=8000)
        assert "http://127.0.0.1:8000" in found.urls()
        missing = Peers("dns://no-such-host.invalid:8000", port=8000)
        assert missing.owner("g") is None  # nobody to forward to: the group stays on this replica

    asyncio.run(run())
