"""xgamma download: checksummed, cached downloads from a local HTTP server."""

from __future__ import annotations

import hashlib
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from xgamma.download import download, make_registry, registry
from xgamma.errors import XgammaIOError

pytest.importorskip("pooch")


@pytest.fixture()
def server(tmp_path):
    root = tmp_path / "www"
    (root / "cta-caldb").mkdir(parents=True)
    (root / "cta-caldb" / "irf.fits").write_bytes(b"IRF" * 1000)
    (root / "README.md").write_text("public data\n")
    hits: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            super().do_GET()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", root, hits
    httpd.shutdown()
    httpd.server_close()


def test_download_checksums_and_cache(server, tmp_path):
    url, root, hits = server
    reg = {n: h for n, h in (line.rsplit(" ", 1) for line in make_registry(root).splitlines())}
    dest = download(tmp_path / "data", url=url, files=reg)
    assert (dest / "cta-caldb" / "irf.fits").read_bytes() == b"IRF" * 1000
    assert len(hits) == 2
    download(tmp_path / "data", url=url, files=reg)  # cached: nothing fetched again
    assert len(hits) == 2
    (dest / "README.md").write_text("corrupted")  # a bad local copy is fetched anew
    download(tmp_path / "data", url=url, files=reg, only=["README"])
    assert (dest / "README.md").read_text() == "public data\n" and len(hits) == 3


def test_download_errors_are_one_line(server, tmp_path):
    url, root, _ = server
    bad = {"README.md": "sha256:" + hashlib.sha256(b"other").hexdigest()}
    with pytest.raises(XgammaIOError, match="README.md") as exc:
        download(tmp_path / "d1", url=url, files=bad)
    assert "\n" not in str(exc.value)
    missing = {"nope.fits": "sha256:" + "0" * 64}
    with pytest.raises(XgammaIOError, match="nope.fits") as exc:
        download(tmp_path / "d2", url=url, files=missing)
    assert "\n" not in str(exc.value)


def test_registry_lists_the_shared_data(data_path):
    reg = registry()
    assert "hess-dl3-dr1/obs-index.fits.gz" in reg
    f = data_path / "hess-dl3-dr1" / "obs-index.fits.gz"
    assert reg["hess-dl3-dr1/obs-index.fits.gz"] == "sha256:" + hashlib.sha256(f.read_bytes()).hexdigest()


def test_cli_download(server, tmp_path, capsys, monkeypatch):
    from xgamma.cli import main

    url, root, _ = server
    monkeypatch.setenv("XGAMMA_DATA_URL", url)
    import xgamma.download as dl

    monkeypatch.setattr(dl, "REGISTRY_FILE", tmp_path / "reg.txt")
    (tmp_path / "reg.txt").write_text(make_registry(root))
    assert main(["download", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "cta-caldb" / "irf.fits").is_file()
    assert main(["download", str(tmp_path / "out"), "--only", "nothing/"]) == 1
    assert capsys.readouterr().err.strip().startswith("xgamma: error: download: no registry file")
