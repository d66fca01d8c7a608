"""A stand-in Hugging Face Hub on the loopback address, for tests of the real Hub code path offline.

`build(root, raw_dir)` writes three repos under `root` (a tiny random `bert-base-cased` with a cased
WordPiece tokenizer, and the two datasets rebuilt from the raw files); `serve(root)` answers the
routes `huggingface_hub` and `datasets` call for them. Point a subprocess at it with
HF_ENDPOINT=<url>, a fresh HF_HOME and HF_HUB_OFFLINE unset: both libraries read those at import.

Layout: `root/hub.json` maps each repo ("datasets/<id>" or a bare model id) to its revisions
{branch or ref: commit sha}; each revision's files lie in `root/<sha>/`.
"""
from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import shutil
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

MODEL = "bert-base-cased"
ROTTEN = "cornell-movie-review-data/rotten_tomatoes"
CONLL = "eriktks/conll2003"
CONLL_REVISION = "refs/convert/parquet"
PROBES = ("My name is Maarten.", "My name is Maarten and I work at Hugging Face in Amsterdam.",
          "Homer Simpson works at the Springfield Nuclear Power Plant.", "What a horrible [MASK]!",
          "The [MASK] was a complete waste of time.", "The acting is superb and the [MASK] is gripping.")
SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")  # ids 0-4, as in the real vocab
DATE = "2024-01-01T00:00:00.000Z"  # one fixed date for every commit: listings are reproducible


def commit_sha(repo: str, ref: str = "main") -> str:
    """A fixed 40-hex commit per repo (and per extra ref), so tests can pin `revision=` to it."""
    return hashlib.sha1((repo if ref == "main" else f"{repo}@{ref}").encode()).hexdigest()


# ---- build ---------------------------------------------------------------------------------

def build(root: Path, raw_dir: Path, num_hidden_layers: int = 12) -> None:
    """Write the three repos and `root/hub.json`; the datasets' rows come from `raw_dir`."""
    from stages.lib.data.sources.builtin import conll_from_raw, rotten_tomatoes_from_raw

    root = Path(root)
    rotten = rotten_tomatoes_from_raw(Path(raw_dir) / "rotten_tomatoes")
    conll = conll_from_raw(Path(raw_dir) / "conll2003")
    manifest: dict[str, dict[str, str]] = {}

    def revision(repo: str, ref: str = "main") -> Path:
        sha = commit_sha(repo, ref)
        manifest.setdefault(repo, {})[ref] = sha
        folder = root / sha
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    texts = [t for split in rotten.values() for t in split["text"]]
    texts += [" ".join(tokens) for split in conll.values() for tokens in split["tokens"]]
    _write_model(revision(MODEL), texts, num_hidden_layers)
    _write_rotten_tomatoes(revision(f"datasets/{ROTTEN}"), rotten)
    # The real main branch holds only a loading script (which datasets >= 4 refuses) and the
    # parquet conversion lives on refs/convert/parquet; a stub script keeps that behaviour.
    (revision(f"datasets/{CONLL}") / "conll2003.py").write_text("# loading script (stand-in)\n")
    _write_conll(revision(f"datasets/{CONLL}", CONLL_REVISION), conll)
    (root / "hub.json").write_text(json.dumps(manifest, indent=1))


def _write_model(folder: Path, texts: list[str], num_hidden_layers: int) -> None:
    import torch
    from tokenizers.pre_tokenizers import BertPreTokenizer
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    # Whole words as BERT's pre-tokenizer splits them (punctuation apart); every character seen
    # also goes in, alone and as a '##' continuation, so no word of the data or probes is [UNK].
    split = BertPreTokenizer().pre_tokenize_str
    counts = collections.Counter(w for text in texts for w, _ in split(text))
    probe_words = [w for text in PROBES for w, _ in split(text.replace("[MASK]", ""))]
    chars = sorted({c for word in list(counts) + probe_words for c in word})
    words = [w for w, _ in counts.most_common(2000)] + probe_words
    vocab = list(dict.fromkeys([*SPECIAL, *chars, *("##" + c for c in chars), *words]))  # ordered, unique
    tokenizer = BertTokenizerFast(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=False,
                                  model_max_length=512)
    tokenizer.save_pretrained(folder)
    # transformers 5 saves tokenizer.json and tokenizer_config.json only; the real repo also has
    # vocab.txt, and older loaders look for special_tokens_map.json.
    (folder / "vocab.txt").write_text("".join(t + "\n" for t in vocab), encoding="utf-8")
    (folder / "special_tokens_map.json").write_text(json.dumps(
        {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
         "mask_token": "[MASK]"}, indent=2))

    # bert-base-cased's structure (12 layers, 512 positions) at a tiny width: random weights, <2 MB.
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=num_hidden_layers,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=512,
                        pad_token_id=0, architectures=["BertForMaskedLM"])
    torch.manual_seed(0)  # the same weights, hence the same file and ETag, on every build
    BertForMaskedLM(config).save_pretrained(folder)  # model.safetensors


def _write_rotten_tomatoes(folder: Path, splits: dict[str, dict[str, list]]) -> None:
    import datasets

    # Through datasets so the parquet schema carries the `huggingface` features metadata, as the
    # real files do: that is where load_dataset finds the ClassLabel names without a README.
    features = datasets.Features({"text": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["neg", "pos"])})
    for split, columns in splits.items():
        datasets.Dataset.from_dict(columns, features=features).to_parquet(folder / f"{split}.parquet")


def _write_conll(folder: Path, splits: dict[str, dict[str, list]]) -> None:
    import datasets

    from stages.lib.data.sources.builtin import NER_TAGS

    # The raw reader keeps tokens and NER tags only; POS and chunk columns are zeros under
    # placeholder names, so the schema has the real columns.
    features = datasets.Features({
        "id": datasets.Value("string"),
        "tokens": datasets.Sequence(datasets.Value("string")),
        "pos_tags": datasets.Sequence(datasets.ClassLabel(names=["X"])),
        "chunk_tags": datasets.Sequence(datasets.ClassLabel(names=["O"])),
        "ner_tags": datasets.Sequence(datasets.ClassLabel(names=list(NER_TAGS))),
    })
    for split, columns in splits.items():
        n = len(columns["tokens"])
        zeros = [[0] * len(tokens) for tokens in columns["tokens"]]
        rows = {"id": [str(i) for i in range(n)], "tokens": columns["tokens"], "pos_tags": zeros,
                "chunk_tags": zeros, "ner_tags": columns["ner_tags"]}
        (folder / "conll2003" / split).mkdir(parents=True, exist_ok=True)
        datasets.Dataset.from_dict(rows, features=features).to_parquet(
            folder / "conll2003" / split / "0000.parquet")


def copy_model(root: Path, repo: str, num_hidden_layers: int) -> None:
    """Add model repo `repo` (call before `serve`): bert-base-cased's files with another depth in
    config.json. The weights stay random: transformers initialises layers the checkpoint lacks
    and reports the extra ones as unexpected."""
    root = Path(root)
    manifest = json.loads((root / "hub.json").read_text())
    source, sha = root / manifest[MODEL]["main"], commit_sha(repo)
    shutil.copytree(source, root / sha, dirs_exist_ok=True)
    config = json.loads((source / "config.json").read_text())
    (root / sha / "config.json").write_text(json.dumps({**config, "num_hidden_layers": num_hidden_layers},
                                                       indent=2))
    manifest[repo] = {"main": sha}
    (root / "hub.json").write_text(json.dumps(manifest, indent=1))


# ---- serve ---------------------------------------------------------------------------------

@dataclass
class Hub:
    """The running stand-in: `url` for HF_ENDPOINT; every request as (method, path, status); and
    `unrouted`, requests no route matched (a 404 without X-Error-Code: a route this module lacks)."""
    url: str
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    unrouted: list[str] = field(default_factory=list)

    @property
    def not_found(self) -> list[str]:
        return [f"{m} {p}" for m, p, status in self.requests if status == 404]

    def __str__(self) -> str:
        return self.url


@contextlib.contextmanager
def serve(root: Path):
    """Serve the repos under `root` on 127.0.0.1 (a free port) in a daemon thread; yields a `Hub`."""
    root = Path(root)
    manifest = json.loads((root / "hub.json").read_text())
    hub = Hub(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the clients expect of the Hub

        def log_message(self, *args):  # quiet: hub.requests is the log
            pass

        def do_HEAD(self):
            self.route(body=False)

        def do_GET(self):
            self.route(body=True)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.form = parse_qs(self.rfile.read(length).decode())
            self.route(body=True)

        def route(self, body: bool):
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            # Revisions and paths come percent-encoded (refs%2Fconvert%2Fparquet); decode the whole
            # rest and match known revisions as prefixes, so encoded and plain slashes both work.
            path = unquote(url.path).strip("/")
            api = path.startswith("api/")
            if api:  # /api/models/{repo}/... and /api/datasets/{repo}/...: the same key as /resolve
                kind, _, path = path[4:].partition("/")
                path = path if kind == "models" else f"datasets/{path}"
            repo = max((r for r in manifest if (path + "/").startswith(r + "/")), key=len, default=None)
            rest = path[len(repo):].lstrip("/") if repo else ""
            if repo is None:
                return self.error("RepoNotFound", "Repository not found", body)
            action, _, rest = rest.partition("/")
            if api and not action:  # /api/datasets/{repo}: the main branch's info
                action, rest = "revision", "main"
            # A revision is a branch ("main", "refs/heads/main"), a ref or the commit sha itself.
            revisions = {**manifest[repo], **{sha: sha for sha in manifest[repo].values()},
                         **{f"refs/heads/{b}": sha for b, sha in manifest[repo].items()}}
            rev = max((r for r in revisions if (rest + "/").startswith(r + "/")), key=len, default=None)
            if rev is None:
                return self.error("RevisionNotFound", f"Invalid rev id: {rest}", body)
            sha, inner = revisions[rev], rest[len(rev):].strip("/")
            files = root / sha
            if ".." in inner.split("/"):
                return self.error("EntryNotFound", f"{inner}: no such path", body, sha)
            if api and action == "revision":
                return self.json(self.info(repo, sha, files, _true(query.get("blobs"))), body)
            if api and action == "tree":
                return self.tree(files, sha, inner, _true(query.get("recursive")),
                                 _true(query.get("expand")), body)
            if api and action == "paths-info" and self.command == "POST":  # a form: paths=…&expand=…
                paths = [p.strip("/") for p in self.form.get("paths", []) if ".." not in p.split("/")]
                expand = _true(self.form.get("expand", [""])[-1])
                return self.json([self.entry(files, sha, p, expand) for p in paths if (files / p).exists()],
                                 body)
            if not api and action == "resolve":
                return self.file(files / inner, sha, inner, body)
            return self.error(None, f"no such route: {self.command} {self.path}", body)

        def info(self, repo: str, sha: str, files: Path, blobs: bool) -> dict:
            """model_info / dataset_info: `sha` is how clients turn a branch into a commit."""
            repo_id = repo.removeprefix("datasets/")
            siblings = []
            for f in sorted(p for p in files.rglob("*") if p.is_file()):
                siblings.append({"rfilename": f.relative_to(files).as_posix()})
                if blobs:
                    siblings[-1].update(size=f.stat().st_size, blobId=_blob_oid(f))
            return {"id": repo_id, "author": repo_id.partition("/")[0] if "/" in repo_id else None,
                    "sha": sha, "lastModified": DATE, "createdAt": DATE, "private": False,
                    "gated": False, "disabled": False, "downloads": 0, "likes": 0, "tags": [],
                    "siblings": siblings}

        def entry(self, files: Path, sha: str, path: str, expand: bool) -> dict:
            target = files / path
            if target.is_file():
                entry = {"type": "file", "oid": _blob_oid(target), "size": target.stat().st_size,
                         "path": path}
            else:
                entry = {"type": "directory", "oid": hashlib.sha1(path.encode()).hexdigest(), "size": 0,
                         "path": path}
            if expand:
                entry["lastCommit"] = {"id": sha, "title": "stand-in commit", "date": DATE}
            return entry

        def tree(self, files: Path, sha: str, inner: str, recursive: bool, expand: bool, body: bool):
            folder = files / inner
            if not folder.is_dir():
                return self.error("EntryNotFound", f"{inner} does not exist on this revision", body, sha)
            children = sorted(folder.rglob("*") if recursive else folder.iterdir())  # one page: no Link
            self.json([self.entry(files, sha, c.relative_to(files).as_posix(), expand) for c in children],
                      body)

        def file(self, target: Path, sha: str, inner: str, body: bool):
            if not target.is_file():
                return self.error("EntryNotFound", f"{inner} does not exist on this revision", body, sha)
            data = target.read_bytes()
            start, end, status = 0, len(data) - 1, 200
            if self.headers.get("Range", "").startswith("bytes="):  # single ranges, as clients send
                a, _, b = self.headers["Range"][6:].partition("-")
                if a:
                    start, end = int(a), min(int(b or end), end)
                else:  # "bytes=-N": the last N bytes
                    start = max(len(data) - int(b), 0)
                status = 206
            part = data[start:end + 1]
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(part)))
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            # huggingface_hub refuses a file without the commit and an ETag (it pins the cache to them).
            self.send_header("ETag", f'"{_blob_oid(target)}"')
            self.send_header("X-Repo-Commit", sha)
            self.end_headers()
            if body:
                self.wfile.write(part)
            self.record(status)

        def json(self, obj, body: bool):
            data = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)
            self.record(200)

        def error(self, code: str | None, message: str, body: bool, sha: str | None = None):
            # The X-Error-Code header is what huggingface_hub turns into RepositoryNotFoundError,
            # RevisionNotFoundError or EntryNotFoundError: the "file absent" paths callers expect.
            data = json.dumps({"error": message}).encode()
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if code:
                self.send_header("X-Error-Code", code)
            else:
                hub.unrouted.append(f"{self.command} {self.path}")
            self.send_header("X-Error-Message", message)
            if sha:
                self.send_header("X-Repo-Commit", sha)  # lets the client cache "absent at this commit"
            self.end_headers()
            if body:
                self.wfile.write(data)
            self.record(404)

        def record(self, status: int):
            hub.requests.append((self.command, self.path, status))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _true(value: str | None) -> bool:
    return (value or "").lower() == "true"  # httpx sends Python booleans as "true" / "false"


def _blob_oid(path: Path) -> str:
    """The file's git blob id: what the Hub sends as ETag and `oid` for non-LFS files."""
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
