"""The Prometheus endpoint: real HTTP on 127.0.0.1, real exposition parsing."""

from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reelwatch.service.metrics import CHECK_BUCKETS, THREAD_NAME, Metrics, check_address, parse_address


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET ``url`` and return {(sample name, sorted labels): value}."""
    with urllib.request.urlopen(url, timeout=5) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = resp.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_values_move_over_real_http() -> None:
    m = Metrics()
    with m.serve("127.0.0.1:0") as server:
        assert server.port > 0
        assert any(t.name == THREAD_NAME and t.daemon for t in threading.enumerate())
        before = scrape(server.url)
        assert value(before, "reelwatch_outbox_depth") == 0
        assert value(before, "reelwatch_check_seconds_count") == 0
        assert value(before, "reelwatch_files_seen_total", volume="ingest") is None

        m.file_seen("ingest")
        m.file_seen("ingest")
        m.file_seen("delivery")
        m.file_checked("ingest", 0.004)
        m.file_checked("ingest", 1.7)
        m.file_checked("ingest", 75.0)
        m.finding("spec.frame_rate", "error")
        m.finding("spec.frame_rate", "error")
        m.finding("integrity.truncated", "blocker")
        m.set_outbox(4, 93.5)
        m.set_observer("ingest", "inotify", True)
        m.set_observer("nas", "polling", False)
        m.reconcile("nas", 12.25)

        after = scrape(server.url)
    assert value(after, "reelwatch_files_seen_total", volume="ingest") == 2
    assert value(after, "reelwatch_files_seen_total", volume="delivery") == 1
    assert value(after, "reelwatch_files_checked_total", volume="ingest") == 3
    assert value(after, "reelwatch_findings_total", rule="spec.frame_rate", severity="error") == 2
    assert value(after, "reelwatch_findings_total", rule="integrity.truncated", severity="blocker") == 1
    assert value(after, "reelwatch_outbox_depth") == 4
    assert value(after, "reelwatch_outbox_oldest_age_seconds") == 93.5
    assert value(after, "reelwatch_observer_healthy", volume="ingest", kind="inotify") == 1
    assert value(after, "reelwatch_observer_healthy", volume="nas", kind="polling") == 0
    assert value(after, "reelwatch_reconcile_seconds", volume="nas") == 12.25
    assert value(after, "reelwatch_reconcile_last_timestamp_seconds", volume="nas") > 1.6e9
    # the histogram: 4 ms falls in the first bucket, 1.7 s by 2.5 s, 75 s only in +Inf
    assert value(after, "reelwatch_check_seconds_count") == 3
    assert value(after, "reelwatch_check_seconds_sum") == pytest.approx(76.704)
    assert value(after, "reelwatch_check_seconds_bucket", le="0.005") == 1
    assert value(after, "reelwatch_check_seconds_bucket", le="1.0") == 1
    assert value(after, "reelwatch_check_seconds_bucket", le="2.5") == 2
    assert value(after, "reelwatch_check_seconds_bucket", le="60.0") == 2
    assert value(after, "reelwatch_check_seconds_bucket", le="+Inf") == 3
    assert CHECK_BUCKETS[0] == 0.005 and CHECK_BUCKETS[-1] == 60.0
    # the process collector rides along in the private registry
    assert value(after, "process_resident_memory_bytes") > 0


def test_close_stops_thread_and_releases_port() -> None:
    m = Metrics()
    server = m.serve("127.0.0.1:0")
    port = server.port
    scrape(server.url)
    server.close()
    server.close()  # idempotent
    assert not any(t.name == THREAD_NAME and t.is_alive() for t in threading.enumerate())
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
    # the port is free again: a new server can take exactly that port
    with m.serve(f"127.0.0.1:{port}") as again:
        assert again.port == port


def test_outbox_empty_and_observer_kind_change() -> None:
    m = Metrics()
    m.set_outbox(2, 30.0)
    m.set_outbox(0, None)
    m.set_observer("nas", "inotify", True)
    m.set_observer("nas", "polling", True)  # fell back to polling: the inotify series must not linger
    families = {f.name: f for f in text_string_to_metric_families(m.render().decode())}
    assert [s.value for s in families["reelwatch_outbox_oldest_age_seconds"].samples] == [0]
    assert [s.value for s in families["reelwatch_outbox_depth"].samples] == [0]
    observer = [(s.labels["kind"], s.value) for s in families["reelwatch_observer_healthy"].samples]
    assert observer == [("polling", 1)]
    m.forget_volume("nas")
    families = {f.name: f for f in text_string_to_metric_families(m.render().decode())}
    assert families["reelwatch_observer_healthy"].samples == []


def test_registries_are_private() -> None:
    a, b = Metrics(), Metrics()
    a.file_seen("ingest")
    assert b"reelwatch_files_seen_total{" in a.render()
    assert b"reelwatch_files_seen_total{" not in b.render()


@pytest.mark.parametrize("address", ["0.0.0.0:9464", "192.168.1.20:9464", ":9464", "nas.example.com:9464",
                                     "[::]:9464"])
def test_non_loopback_refused(address: str) -> None:
    with pytest.raises(ValueError, match="not a loopback address"):
        Metrics().serve(address)
    assert not any(t.name == THREAD_NAME and t.is_alive() for t in threading.enumerate())


@pytest.mark.parametrize("address, problem", [("9464", "no port"), ("127.0.0.1:http", "not a number"),
                                              ("127.0.0.1:70000", "not a number"), ("::1:9464", "brackets")])
def test_malformed_address(address: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_address(address)


def test_loopback_forms_accepted() -> None:
    assert parse_address("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert check_address("localhost:9464") == ("localhost", 9464)
    assert check_address("[::1]:9464") == ("::1", 9464)
    assert check_address("127.0.0.2:9464") == ("127.0.0.2", 9464)
    assert check_address("0.0.0.0:9464", allow_remote=True) == ("0.0.0.0", 9464)


def test_ipv6_loopback_serves() -> None:
    if not socket.has_ipv6:
        pytest.skip("this Python has no IPv6 support")
    try:
        server = Metrics().serve("[::1]:0")
    except OSError as exc:
        pytest.skip(f"cannot bind [::1] here: {exc}")
    with server:
        assert value(scrape(server.url), "reelwatch_outbox_depth") == 0


def test_remote_when_allowed() -> None:
    with Metrics().serve("0.0.0.0:0", allow_remote=True) as server:
        assert value(scrape(f"http://127.0.0.1:{server.port}/metrics"), "reelwatch_outbox_depth") == 0


def test_port_in_use_is_an_os_error() -> None:
    with Metrics().serve("127.0.0.1:0") as first, pytest.raises(OSError):
        Metrics().serve(f"127.0.0.1:{first.port}")
