"""Keras' `get_file` without a network: files come from Keras' cache folder.

`get_file` looks where Keras would have downloaded the file (`$KERAS_HOME`, else `~/.keras`,
then `cache_subdir`, `"datasets"` by default), checks `file_hash` when given and extracts
archives when asked, exactly at Keras' paths, so a folder filled by Keras serves gated too.
When the file is absent it raises `FileNotFoundError` naming the path to place it at and the
URL to download it from: nothing is ever downloaded.

Example:
>>> path = get_file("mnist.npz", origin="https://example.org/mnist.npz")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import urllib.parse
import warnings
import zipfile
from pathlib import Path
from typing import Any

__all__ = ["get_file", "keras_home", "extract_archive", "hash_file", "validate_file"]


def keras_home() -> str:
    """Keras' cache folder: `$KERAS_HOME` when set, else `~/.keras` (read at every call).

    Returns:
        The folder's path (it need not exist).
    """
    if "KERAS_HOME" in os.environ:
        return os.environ["KERAS_HOME"]
    home = os.path.expanduser("~")
    # Keras' rule: an unwritable home puts the cache under /tmp
    return os.path.join(home if os.access(home, os.W_OK) else "/tmp", ".keras")


def _hasher(algorithm: str, file_hash: str | None = None) -> Any:
    if algorithm not in ("auto", "sha256", "md5"):
        raise ValueError(f"Argument `hash_algorithm` must be 'auto', 'sha256' or 'md5'; "
                         f"received hash_algorithm={algorithm!r}.")
    if algorithm == "sha256" or (algorithm == "auto" and file_hash is not None
                                 and len(file_hash) == 64):
        return hashlib.sha256()
    return hashlib.md5()


def hash_file(fpath: str | os.PathLike, algorithm: str = "sha256",
              chunk_size: int = 65535) -> str:
    """The hex digest of a file (`"sha256"`, `"md5"`, or `"auto"`: sha256), read in chunks.

    Args:
        fpath: The file.
        algorithm: `"sha256"` (default), `"md5"` or `"auto"`.
        chunk_size: Bytes read at a time.

    Returns:
        The hex digest string.
    """
    hasher = _hasher(algorithm)
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath: str | os.PathLike, file_hash: str, algorithm: str = "auto",
                  chunk_size: int = 65535) -> bool:
    """Whether the file's hash equals `file_hash` (`"auto"`: sha256 for a 64-character hash,
    md5 otherwise, as Keras)."""
    hasher = _hasher(algorithm, file_hash)
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest() == str(file_hash)


def extract_archive(file_path: str | os.PathLike, path: str | os.PathLike = ".",
                    archive_format: str | list[str] | None = "auto") -> bool:
    """Extracts a tar (`.tar`, `.tar.gz`, `.tar.bz2`) or zip archive into `path`.

    Members that would land outside `path` (absolute names, `..`, links out) are refused:
    tar archives use the standard library's `"data"` filter, zip member names are sanitized
    by `zipfile`.

    Args:
        file_path: The archive.
        path: The folder to extract into (created).
        archive_format: `"auto"` (tar, then zip), `"tar"`, `"zip"`, a list of those, or None.

    Returns:
        True when the archive matched a format and was extracted, else False.
    """
    if archive_format is None:
        return False
    formats = ["tar", "zip"] if archive_format == "auto" else (
        [archive_format] if isinstance(archive_format, str) else list(archive_format))
    for fmt in formats:
        if fmt not in ("tar", "zip"):
            raise ValueError(f"Argument `archive_format` must be 'auto', 'tar', 'zip', a list "
                             f"of those or None; received archive_format={archive_format!r}.")
    file_path = os.fspath(file_path)
    for fmt in formats:
        if fmt == "tar" and tarfile.is_tarfile(file_path):
            with tarfile.open(file_path) as archive:
                archive.extractall(path, filter="data")
            return True
        if fmt == "zip" and zipfile.is_zipfile(file_path):
            with zipfile.ZipFile(file_path) as archive:
                archive.extractall(path)
            return True
    return False


def _targets(fname: str | None, origin: str, datadir: str, extract: bool) -> tuple[str, str | None]:
    """Keras' naming: `(where the file is cached, where it is extracted or None)`."""
    provided = fname
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(f"Cannot take a file name from origin={origin!r}; pass `fname`.")
    elif os.sep in fname:
        raise ValueError(
            f"Argument `fname` must be a file name, not a path (use `cache_dir` for the "
            f"folder); received fname={fname!r}."
        )
    if not extract:
        return os.path.join(datadir, fname), None
    if provided and "." in fname:
        stem = fname[: fname.find(".")]
        return os.path.join(datadir, fname), os.path.join(datadir, f"{stem}_extracted")
    return os.path.join(datadir, f"{fname}_archive"), os.path.join(datadir, fname)


def get_file(
    fname: str | os.PathLike | None = None,
    origin: str | None = None,
    untar: bool = False,
    md5_hash: str | None = None,
    file_hash: str | None = None,
    cache_subdir: str = "datasets",
    hash_algorithm: str = "auto",
    extract: bool = False,
    archive_format: str | list[str] | None = "auto",
    cache_dir: str | os.PathLike | None = None,
    force_download: bool = False,
) -> str:
    """Returns the path of a cached file, as `keras.utils.get_file` (which downloads it).

    gated never downloads: the file must already be at Keras' cache path,
    `{cache_dir or $KERAS_HOME or ~/.keras}/{cache_subdir}/{fname}` (Keras' own downloads
    count). With `extract=True` (or `untar=True`) the archive is cached as Keras names it and
    extracted beside it; a folder already extracted there is used as it is when the archive
    is gone.

    Args:
        fname: File name in the cache; default the last part of `origin`'s path. With
            `extract`, a name without a dot names the extraction folder.
        origin: The file's URL (required, as in Keras; shown in the error when it is missing).
        untar: Deprecated form of `extract=True, archive_format="tar"`.
        md5_hash: Deprecated form of `file_hash` with `hash_algorithm="md5"`.
        file_hash: Expected sha256 or md5 hex digest; a mismatch raises `ValueError`.
        cache_subdir: Folder under the cache folder (an absolute path is used as it is).
        hash_algorithm: `"auto"`, `"sha256"` or `"md5"`.
        extract: Extract the archive (tar or zip) and return the extraction folder.
        archive_format: `"auto"`, `"tar"`, `"zip"` or None.
        cache_dir: The cache folder; default `$KERAS_HOME` or `~/.keras`.
        force_download: Keras re-downloads; gated warns and uses the cached file.

    Returns:
        The path of the file, or of the extraction folder with `extract=True`.

    Raises:
        FileNotFoundError: the file is not in the cache (the message gives the path to place
            it at and the URL to download it from).
        ValueError: a bad argument, or the file's hash differs from `file_hash`.

    Example:
    >>> import gated as keras
    >>> path = keras.utils.get_file(  # doctest: +SKIP
    ...     "imdb.npz", origin="https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
    ...     "imdb.npz")
    """
    if origin is None:
        raise ValueError("Argument `origin` (the URL of the file) is required, received None.")
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    _hasher(hash_algorithm)  # validates the name
    base = os.path.expanduser(os.fspath(cache_dir or keras_home()))
    if os.path.isdir(base) and not os.access(base, os.W_OK):
        base = os.path.join("/tmp", ".keras")  # where Keras downloads then
    datadir = os.path.join(base, cache_subdir)
    extract = bool(extract or untar)
    target, extraction_dir = _targets(os.fspath(fname) if fname else None, origin, datadir,
                                      extract)
    if force_download:
        warnings.warn("force_download=True: gated does not download; using the cached file "
                      f"'{target}'.", stacklevel=2)
    if not os.path.exists(target):
        if extraction_dir is not None and os.path.isdir(extraction_dir):
            return extraction_dir
        raise FileNotFoundError(
            f"'{target}' does not exist and gated does not download files. Download\n    "
            f"{origin}\nand save it as\n    {target}\n(Keras' cache folder: set KERAS_HOME "
            "or pass cache_dir to use another one)."
            + (f" An extracted copy in the folder '{extraction_dir}' is used too."
               if extraction_dir else "")
        )
    if file_hash is not None and not validate_file(target, file_hash, hash_algorithm):
        algorithm = hash_algorithm if hash_algorithm != "auto" else (
            "sha256" if len(file_hash) == 64 else "md5")
        raise ValueError(
            f"The cached file '{target}' is incomplete or not the expected one: its "
            f"{algorithm} hash is {hash_file(target, algorithm)}, expected {file_hash}. "
            f"Download it again from {origin}."
        )
    if extraction_dir is None:
        return target
    fmt = "tar" if untar else archive_format
    Path(extraction_dir).mkdir(parents=True, exist_ok=True)
    if not extract_archive(target, extraction_dir, fmt):
        warnings.warn(f"Could not extract the archive '{target}' (format {fmt!r}).",
                      stacklevel=2)
    return extraction_dir
