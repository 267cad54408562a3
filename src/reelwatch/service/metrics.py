"""Prometheus metrics for the daemon: counters and gauges in a private registry, and a
small HTTP endpoint for Prometheus to scrape.

Every :class:`Metrics` owns its own :class:`~prometheus_client.CollectorRegistry`, so two
daemons (or two tests) in one process never share numbers. Labels are volume names, rule
ids, severities and observer kinds only: never file names, which are untrusted and unbounded.

The endpoint listens on loopback unless the caller explicitly allows otherwise: the numbers
name volumes and rules, and the endpoint has no authentication of its own.
"""

from __future__ import annotations

import socket
import threading
from http.server import ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest
from prometheus_client.exposition import MetricsHandler

from ..core.addresses import check_address, is_loopback, parse_address
import contextlib

__all__ = ["CHECK_BUCKETS", "THREAD_NAME", "Metrics", "MetricsServer", "check_address", "is_loopback",
           "parse_address"]

CHECK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
"""Seconds: a cached re-check of a small file (~5 ms) up to a MediaInfo probe near its timeout."""
THREAD_NAME = "reelwatch-metrics"


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a slow scraper never holds up close()

    def __init__(self, host: str, port: int, handler: type) -> None:
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), handler)


class MetricsServer:
    """A running endpoint. ``port`` is the bound port (useful with port 0); :meth:`close` stops it."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        bind = "127.0.0.1" if host.lower() == "localhost" else host
        self._httpd = _Server(bind, port, MetricsHandler.factory(registry))
        self.host = bind
        self.port: int = self._httpd.server_address[1]
        self._closed = False
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=THREAD_NAME, daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        """True while the endpoint's thread serves (the daemon's health covers it)."""
        return not self._closed and self._thread.is_alive()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else (self.host or "127.0.0.1")
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving, release the port and join the server thread. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Metrics:
    """The daemon's numbers. All methods are thread-safe and cheap."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self._seen = Counter("reelwatch_files_seen", "Files that settled on a volume and were queued for checking",
                             ["volume"], registry=reg)
        self._checked = Counter("reelwatch_files_checked", "Files checked (probed and run through the rules)",
                                ["volume"], registry=reg)
        self._findings = Counter("reelwatch_findings", "Findings raised, by rule id and severity",
                                 ["rule", "severity"], registry=reg)
        self._outbox_depth = Gauge("reelwatch_outbox_depth", "Messages waiting in the outbox to be sent",
                                   registry=reg)
        self._outbox_age = Gauge("reelwatch_outbox_oldest_age_seconds",
                                 "Age of the oldest message waiting to be sent (0 when none waits)", registry=reg)
        self._check_seconds = Histogram("reelwatch_check_seconds", "Seconds to probe and check one file",
                                        buckets=CHECK_BUCKETS, registry=reg)
        self._observer = Gauge("reelwatch_observer_healthy",
                               "1 while the volume's watcher (inotify or polling) is working, else 0",
                               ["volume", "kind"], registry=reg)
        self._observer_degraded = Gauge("reelwatch_observer_degraded",
                                        "1 while the volume is polled because inotify could not watch all of it, "
                                        "else 0", ["volume"], registry=reg)
        self._overflows = Counter("reelwatch_event_overflows", "inotify queue overflows (each one causes a rescan)",
                                  ["volume"], registry=reg)
        self._reconcile = Gauge("reelwatch_reconcile_seconds", "Duration of the volume's last full rescan",
                                ["volume"], registry=reg)
        self._reconcile_at = Gauge("reelwatch_reconcile_last_timestamp_seconds",
                                   "Unix time the volume's last full rescan finished", ["volume"], registry=reg)
        self._degraded = Gauge("reelwatch_degraded",
                               "1 while the daemon runs degraded for this reason (state_disk_full: checks are "
                               "held until there is room; state_database_damaged: needs reelwatch state recover)",
                               ["reason"], registry=reg)
        for reason in ("state_disk_full", "state_database_damaged", "state_database_unreachable"):
            self._degraded.labels(reason=reason).set(0)
        self._healthy = Gauge("reelwatch_healthy",
                              "1 while every daemon thread (control, checkers, outbox, metrics) and observer is "
                              "alive, else 0; the systemd watchdog pings stop at 0", registry=reg)
        ProcessCollector(registry=reg)  # memory, CPU and open files of this process
        self._probe = Gauge("reelwatch_probe_healthy",
                            "1 while MediaInfo worker processes start and answer, 0 while files wait for them",
                            registry=self.registry)
        self._probe.set(1)
        self._held = Gauge("reelwatch_probe_held_files", "Files waiting for a working MediaInfo to be checked",
                           registry=self.registry)
        self._free = Gauge("reelwatch_volume_free_bytes", "Bytes free on the volume's filesystem (to an ordinary user)",
                           ["volume"], registry=reg)
        self._fill = Gauge("reelwatch_volume_fill_rate_bytes_per_second",
                           "How fast the volume's filesystem fills: over the last minutes (window=current) and "
                           "the last hours (window=pace)", ["volume", "window"], registry=reg)
        self._until_full = Gauge("reelwatch_volume_seconds_until_full",
                                 "Seconds until the volume's filesystem is full at the faster of the two rates "
                                 "(+Inf when not filling, 0 when full)", ["volume"], registry=reg)
        self._timeline = Gauge("reelwatch_timeline_events", "Events of the current timelines (cut lists), all of "
                               "them and those offline or failing conform", ["state"], registry=reg)
        self._kinds: dict[str, str] = {}
        self._lock = threading.Lock()

    def file_seen(self, volume: str) -> None:
        """A file settled and was queued for checking."""
        self._seen.labels(volume=volume).inc()

    def file_checked(self, volume: str, seconds: float) -> None:
        """A file was checked; ``seconds`` feeds the ``reelwatch_check_seconds`` histogram."""
        self._checked.labels(volume=volume).inc()
        self._check_seconds.observe(max(0.0, seconds))

    def finding(self, rule: str, severity: str) -> None:
        """A finding was raised (``severity`` is the label: info, warning, error, blocker)."""
        self._findings.labels(rule=rule, severity=severity).inc()

    def set_outbox(self, depth: int, oldest_age: float | None) -> None:
        """Messages waiting, and the age of the oldest in seconds (None: the outbox is empty)."""
        self._outbox_depth.set(max(0, depth))
        self._outbox_age.set(max(0.0, oldest_age) if oldest_age is not None else 0.0)

    def set_observer(self, volume: str, kind: str, healthy: bool, degraded: bool = False) -> None:
        """The watcher state of a volume. A change of kind (inotify -> polling) drops the old series.
        ``degraded``: polled only because inotify could not watch all of it (the watch limit)."""
        self._observer_degraded.labels(volume=volume).set(1 if degraded else 0)
        with self._lock:
            previous = self._kinds.get(volume)
            if previous is not None and previous != kind:
                with contextlib.suppress(KeyError):
                    self._observer.remove(volume, previous)
            self._kinds[volume] = kind
            self._observer.labels(volume=volume, kind=kind).set(1 if healthy else 0)

    def overflow(self, volume: str, count: int = 1) -> None:
        """The kernel's inotify queue overflowed ``count`` times for ``volume``."""
        self._overflows.labels(volume=volume).inc(count)

    def set_healthy(self, healthy: bool) -> None:
        """The daemon's own health (see ``Daemon.healthy``)."""
        self._healthy.set(1 if healthy else 0)

    def forget_volume(self, volume: str) -> None:
        """Drop a volume's observer and forecast series (it left the config on reload)."""
        self.forget_space(volume)
        with self._lock:
            kind = self._kinds.pop(volume, None)
            with contextlib.suppress(KeyError):
                self._observer_degraded.remove(volume)
            if kind is not None:
                with contextlib.suppress(KeyError):
                    self._observer.remove(volume, kind)

    def set_space(self, volume: str, free_bytes: int, current: float, pace: float, seconds_until_full: float) -> None:
        """A volume's forecast (volumes on one filesystem report the same numbers)."""
        self._free.labels(volume=volume).set(free_bytes)
        self._fill.labels(volume=volume, window="current").set(current)
        self._fill.labels(volume=volume, window="pace").set(pace)
        self._until_full.labels(volume=volume).set(seconds_until_full)

    def forget_space(self, volume: str) -> None:
        """Drop a volume's forecast series (a drive let go, a volume left the config)."""
        for gauge, labels in ((self._free, [(volume,)]), (self._until_full, [(volume,)]),
                              (self._fill, [(volume, "current"), (volume, "pace")])):
            for values in labels:
                with contextlib.suppress(KeyError):  # never set: nothing to drop
                    gauge.remove(*values)

    def set_probe(self, healthy: bool, held: int) -> None:
        """The probe tool's health, and how many files wait for it."""
        self._probe.set(1 if healthy else 0)
        self._held.set(max(0, held))

    def set_degraded(self, reason: str, on: bool) -> None:
        """``reason`` in words (``state disk full``) or as the label (``state_disk_full``)."""
        label = reason.replace("degraded: ", "").replace(" ", "_")
        self._degraded.labels(reason=label).set(1 if on else 0)

    def timeline_events(self, counts: dict[str, int]) -> None:
        """``{"events": n, "offline": n, "failing": n}`` of the current timelines."""
        for state in ("events", "offline", "failing"):
            self._timeline.labels(state=state).set(counts.get(state, 0))

    def reconcile(self, volume: str, seconds: float) -> None:
        """A full rescan of ``volume`` finished after ``seconds``."""
        self._reconcile.labels(volume=volume).set(max(0.0, seconds))
        self._reconcile_at.labels(volume=volume).set_to_current_time()

    def render(self) -> bytes:
        """The Prometheus text exposition of everything above."""
        return generate_latest(self.registry)

    def serve(self, address: str, *, allow_remote: bool = False) -> MetricsServer:
        """Serve ``/metrics`` on ``address`` (``host:port``; port 0 picks a free port).

        A host that is not loopback is refused unless ``allow_remote`` is true: the endpoint
        has no authentication, and its numbers name volumes and rules. Raises
        :class:`ValueError` for a malformed or refused address, and :class:`OSError` when the
        port cannot be bound (already in use, or the address is not on this machine).
        """
        host, port = check_address(address, allow_remote=allow_remote)
        return MetricsServer(self.registry, host, port)
