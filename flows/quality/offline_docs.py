"""Data Docs that work offline: GX's pages load their CSS and JS from public CDNs; these are
served from the site itself instead.

GX 1.24 writes the CDN URLs into its page templates (page.j2, index_page.j2, js_script_imports.j2)
and offers no setting to change them (a site's custom views are searched after GX's own templates,
so they cannot replace them). So the files are vendored from the npm registry, pinned, under
flows/quality/static/vendor/ (versions and sha256 below and in its README), copied into the
site's static/vendor/ folder, and every page GX writes is rewritten right after it is built:
each known CDN URL becomes the relative path of its vendored copy. tests/quality/
test_data_docs_offline.py builds real pages and fails if any asset URL is left pointing outside
the site (e.g. when a GX upgrade changes a URL), and checks the vendored files' sha256.

Refresh or verify the files: `python -m flows.quality.offline_docs fetch|check` (fetch runs
`npm pack <package>@<version>`; both compare the sha256 recorded here).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

VENDOR_DIR: Final = Path(__file__).resolve().parent / "static" / "vendor"
SITE_VENDOR: Final = ("static", "vendor")  # where the files go inside the Data Docs site
_STAMP: Final = ".vendored"  # in the site's copy: the sha256 list it was copied from


@dataclass(frozen=True)
class Asset:
    """One file of an npm package, and the CDN URLs GX's pages load it from (none: a file another
    asset loads, such as a web font, or the package's licence)."""

    package: str
    version: str
    path: str  # inside the package
    sha256: str
    cdn_urls: tuple[str, ...] = ()

    @property
    def local(self) -> str:
        """Its path under static/vendor/ (of the repository and of the site)."""
        return f"{self.package}@{self.version}/{self.path}"


_BT = "https://unpkg.com/bootstrap-table@1.19.1/dist"
_FC = "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control"
_FA = "@fortawesome/fontawesome-free"

ASSETS: Final[tuple[Asset, ...]] = (
    Asset(
        "jquery",
        "3.7.1",
        "dist/jquery.min.js",
        "fc9a93dd241f6b045cbff0481cf4e1901becd0e12fb45166a8f17f95823f0b1a",
        ("https://code.jquery.com/jquery-3.7.1.min.js",),
    ),
    Asset("jquery", "3.7.1", "LICENSE.txt", "d4db9ebe6f29f5168eac45ad713f055623ac5d0dcd5ba92da23d650ae012020d"),
    Asset(
        "popper.js",
        "1.12.9",
        "dist/umd/popper.min.js",
        "a52f7aa54d7bcaafa056ee0a050262dfc5694ae28dee8b4cac3429af37ff0d66",
        ("https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js",),
    ),
    Asset(
        "bootstrap",
        "4.3.1",
        "dist/css/bootstrap.min.css",
        "60b19e5da6a9234ff9220668a5ec1125c157a268513256188ee80f2d2c8d8d36",
        ("https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css",),
    ),
    Asset(
        "bootstrap",
        "4.3.1",
        "dist/js/bootstrap.min.js",
        "0a34a87842c539c1f4feec56bba982fd596b73500046a6e6fe38a22260c6577b",
        ("https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js",),
    ),
    Asset("bootstrap", "4.3.1", "LICENSE", "074d99b8c25d13649dac52080900ee8c8d2373d07ea3f4fb67bd2bf79aa8cc72"),
    Asset(
        "bootstrap-table",
        "1.19.1",
        "dist/bootstrap-table.min.css",
        "643f536f6982af4d7287af23f89ad457dd7e4a82f9c695330a112b0881c30a4a",
        (f"{_BT}/bootstrap-table.min.css",),
    ),
    Asset(
        "bootstrap-table",
        "1.19.1",
        "dist/bootstrap-table.min.js",
        "06a571a9beb50bd5ddd60517159775dfec1f3e798fff38fb117ae2350dc9ba9d",
        (f"{_BT}/bootstrap-table.min.js",),
    ),
    Asset(
        "bootstrap-table",
        "1.19.1",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
        "111f68d31d1bdd714f9503bf5f4e162e0739c363e4ff2feef950d39e78266ffc",
        (f"{_BT}/extensions/filter-control/bootstrap-table-filter-control.min.js",),
    ),
    Asset("bootstrap-table", "1.19.1", "LICENSE", "fb50e42cb539382385f8d66572fef8ec08a34dd7dc00ba7a5ce0668d225dc35b"),
    Asset(
        "bootstrap-table",
        "1.19.0",
        "dist/extensions/filter-control/bootstrap-table-filter-control.css",
        "b3ff051168696ec9ae3cf8616c59a6db8734fb282863b23edfd8c0f93eb5c4f0",
        (f"{_FC}/bootstrap-table-filter-control.css",),
    ),
    Asset(
        "bootstrap-table",
        "1.19.0",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
        "2c707bb54520737762a76f2238e87627993fb63bcef6d789a21a4957f393fa1c",
        (f"{_FC}/bootstrap-table-filter-control.min.css",),
    ),
    Asset(
        "bootstrap-datepicker",
        "1.9.0",
        "dist/css/bootstrap-datepicker.min.css",
        "b22c8ea45fe905650f8087108b5ed32c1923bcd80d400adc9b0241f18be40208",
        ("https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css",),
    ),
    Asset(
        "bootstrap-datepicker",
        "1.9.0",
        "dist/js/bootstrap-datepicker.min.js",
        "6ea55ea86749ee1fe560fabac6b3effd81b33046fa74dc657e24d41d28110a9f",
        ("https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js",),
    ),
    Asset(
        "bootstrap-datepicker", "1.9.0", "LICENSE", "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
    ),
    Asset(
        "@forevolve/bootstrap-dark",
        "1.1.0",
        "dist/css/bootstrap-prefers-dark.min.css",
        "424070f1f798087a68c110a776228f9eaae5406df143940faa67d77344293ac8",
        ("https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css",),
    ),
    Asset(
        "@forevolve/bootstrap-dark",
        "1.1.0",
        "LICENSE",
        "43be5d79d2ec3d6d876e1874d27506cbe55024b18afc55f1fc830aaaedc0313d",
    ),
    Asset(
        _FA,
        "6.6.0",
        "css/all.min.css",
        "e5e202e3c899507992952533f57b634722b69b34241d271963559d31aa33ef81",
        ("https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css",),
    ),
    Asset(
        _FA, "6.6.0", "webfonts/fa-brands-400.woff2", "c411f11975d26eb04cd2aa3c071181d4b18e489f1fb97060d4176a3531dfb36e"
    ),
    Asset(
        _FA,
        "6.6.0",
        "webfonts/fa-regular-400.woff2",
        "c732f106e91bc618767fbac8e2c7b27e5c736d477b2bb4fb83f597a43198c33c",
    ),
    Asset(
        _FA, "6.6.0", "webfonts/fa-solid-900.woff2", "1f0189e087fcefbf654fad74a3a06668b782c01353a61d5c0b7f0bf23e33c020"
    ),
    Asset(
        _FA,
        "6.6.0",
        "webfonts/fa-v4compatibility.woff2",
        "2aca24b35bd41474dcc5e7fb5f11ec43fa06e3ac1d0035ad41108fa6b30b0871",
    ),
    Asset(_FA, "6.6.0", "LICENSE.txt", "9b914eae88817d63b576eab5aafde7068c7a1abae125d7cdfb034f1da43a9afc"),
    Asset(
        "vega",
        "5.33.1",
        "build/vega.min.js",
        "463f3db6a40b20e9747b4ed38f37ed0add508838f9141b1cf8366784b07b30c8",
        ("https://cdn.jsdelivr.net/npm/vega@5",),
    ),
    Asset(
        "vega-lite",
        "5.23.0",
        "build/vega-lite.min.js",
        "58c27358e26f2d319cf62f45bc17a4c8362f08645001df2ec8d341eee4097c7f",
        ("https://cdn.jsdelivr.net/npm/vega-lite@5",),
    ),
    Asset("vega-lite", "5.23.0", "LICENSE", "f618900fd0d64046963b29f40590cdd1e341a2f41449f99110d82fd81fea808c"),
    Asset(
        "vega-embed",
        "6.29.0",
        "build/vega-embed.min.js",
        "12d02acfbe3ec59ef9a37dd4822a2e04e2961b5bbb671bbe661d2221715b99da",
        ("https://cdn.jsdelivr.net/npm/vega-embed@6",),
    ),
    Asset("vega-embed", "6.29.0", "LICENSE", "32df67148f0fc3db0eb9e263a7b75d07f1eb14c61955005a4a39c6918d10d137"),
)


def by_url() -> dict[str, Asset]:
    """CDN URL -> the vendored asset that replaces it."""
    return {url: asset for asset in ASSETS for url in asset.cdn_urls}


# GX's navbar logo comes from its S3 bucket with the data context id appended (?d=...); the same
# image ships in GX's own static/images, which every site has.
_GX_IMAGES = re.compile(r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/([\w.-]+)(\?[^\"']*)?")
# Subresource-integrity and CORS attributes of the CDN tags: the files are the site's own now (their
# sha256 is checked by the tests), and a crossorigin request fails when a page is opened from disk.
_SRI = re.compile(r'\s+(integrity="[^"]*"|crossorigin="[^"]*")')
# Loaded assets (not links a reader clicks): <script src>, <link href>, <img src>.
_LOADED = re.compile(r"<(?:script|link|img)\b[^>]*?\b(?:src|href)=[\"']([^\"']+)[\"']", re.IGNORECASE)


def rewrite_page(html: str, to_root: str) -> str:
    """`html` with every known CDN asset pointing at its vendored copy; `to_root` is the page's
    relative path to the site root ("" for index.html, "../../" two folders down)."""
    vendor = to_root + "/".join(SITE_VENDOR) + "/"
    for url, asset in by_url().items():
        html = html.replace(url, vendor + asset.local)
    html = _GX_IMAGES.sub(lambda m: f"{to_root}static/images/{m.group(1)}", html)
    return _SRI.sub("", html)


def external_assets(html: str) -> list[str]:
    """The URLs of assets the page would still load from outside the site."""
    return [url for url in _LOADED.findall(html) if re.match(r"(?i)(https?:)?//", url)]


def install_assets(docs_dir: Path) -> None:
    """Copy the vendored files into <site>/static/vendor/ (again only when they changed)."""
    target = docs_dir.joinpath(*SITE_VENDOR)
    stamp = "\n".join(f"{a.local} {a.sha256}" for a in ASSETS)
    if (target / _STAMP).is_file() and (target / _STAMP).read_text(encoding="utf-8") == stamp:
        return
    for asset in ASSETS:
        destination = target / asset.local
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(VENDOR_DIR / asset.local, destination)
    (target / _STAMP).write_text(stamp, encoding="utf-8")


def localise_pages(docs_dir: Path, since: float) -> list[str]:
    """Rewrite the site's pages written at or after `since` (a time.time()); returns the asset URLs
    still external afterwards (none, unless GX changed a URL; the tests fail on any)."""
    left: list[str] = []
    for page in docs_dir.rglob("*.html"):
        if page.stat().st_mtime < since:
            continue
        to_root = "../" * (len(page.relative_to(docs_dir).parts) - 1)
        html = page.read_text(encoding="utf-8")
        rewritten = rewrite_page(html, to_root)
        if rewritten != html:
            page.write_text(rewritten, encoding="utf-8")
        left.extend(external_assets(rewritten))
    return sorted(set(left))


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mismatches() -> list[str]:
    """Vendored files that are missing or whose sha256 differs from the one recorded here."""
    return [
        asset.local
        for asset in ASSETS
        if not (VENDOR_DIR / asset.local).is_file() or sha256_of(VENDOR_DIR / asset.local) != asset.sha256
    ]


def fetch(workdir: Path) -> list[str]:
    """Download every package with `npm pack <package>@<version>` into `workdir`, copy the listed
    files under VENDOR_DIR and return the ones whose sha256 differs from the recorded one."""
    import subprocess
    import tarfile

    for package, version in sorted({(a.package, a.version) for a in ASSETS}):
        spec = f"{package}@{version}"
        name = subprocess.run(
            ["npm", "pack", "--silent", spec], cwd=workdir, check=True, capture_output=True, text=True
        ).stdout.split()[-1]
        with tarfile.open(workdir / name) as tar:
            for asset in (a for a in ASSETS if (a.package, a.version) == (package, version)):
                member = tar.extractfile(f"package/{asset.path}")
                if member is None:
                    raise FileNotFoundError(f"{spec} has no {asset.path}")
                destination = VENDOR_DIR / asset.local
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(member.read())
    return mismatches()


def main(argv: list[str]) -> int:
    """`fetch` (npm pack the pinned packages, then check) or `check` (sha256 of the committed files)."""
    import tempfile

    if argv[:1] == ["fetch"]:
        with tempfile.TemporaryDirectory(prefix="bap-vendor-") as tmp:
            bad = fetch(Path(tmp))
    elif argv[:1] == ["check"]:
        bad = mismatches()
    else:
        print("usage: python -m flows.quality.offline_docs fetch|check", file=sys.stderr)
        return 2
    for local in bad:
        print(f"sha256 differs or file missing: {local}", file=sys.stderr)
    print(f"{len(ASSETS) - len(bad)} of {len(ASSETS)} vendored files match their recorded sha256")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
