"""Several methods on one split, one table (``tools/benchmark.py``; docs/evaluation.md, "One table for several
methods").

The pieces are plain functions on plain records, so that a test can build a table from hand-made records:

- :func:`run_method` tests one config (as ``tools/test.py CONFIG CKPT [--refine]`` does, through the same shared
  functions: :func:`~hoirecon.apis.cli.merge_common_args`, :func:`~hoirecon.apis.configure_refinement`,
  :func:`~hoirecon.apis.prepare_experiment`, mmengine's ``Runner``) and returns a **record**;
  :func:`train_method` trains one config as ``tools/train.py CONFIG`` does;
  :func:`score_meshes` scores another method's exported meshes with ``tools/evaluate_meshes.py``;
- :func:`run_isolated` runs one of them in a fresh process (peak memory of that method alone; an exception, a crash
  or a kill gives a record with the reason);
- :func:`benchmark_table` / :func:`write_csv` / :func:`write_chart` turn records into Markdown, CSV and a bar chart.

A record is a dict::

    dict(method='stackflow_synthetic', config='configs/...py', checkpoint='...pth' or None,
         refine=False,                  # the post-optimised (✓) row of the method, or None: unknown (meshes)
         status='ok' | 'not run' | 'failed', reason=None or 'not run: no checkpoint (...)',
         chamfer={'all': {'human_hoi': [mean, std], 'object_hoi': [...], 'human_none': [...],
                          'object_none': [...], 'frames': n},
                  'vis': {... the frames with visibility >= threshold ...} or None},
         visibility_threshold=0.3, images=416, seconds_per_image=0.21, wall_s=120.3,
         peak_memory_mib=812.0, memory_kind='RSS' | 'CUDA' | 'RSS (in process)' | 'RSS (process peak)', device='cpu',
         machine='AMD EPYC (AVX2, 2 cores), torch threads 2',  # what timed it (CPU or GPU); absent in old records
         measured_at='2026-12-07 21:40:12',
         run=dict(config=..., settings=..., checkpoint=dict(path=..., bytes=..., mtime=...) or None, refine=False,
                  cfg_options={...}, data_root=None, code='0.1.0+src.<digest>'))  # :func:`run_identity`

A long benchmark keeps what it measured: :func:`run_benchmark` rewrites the table after every row, and with
``resume=True`` reuses a row of the folder's ``records.json`` whose :func:`run_identity` is the one it would run;
:func:`merge_records` builds one table from the ``records.json`` of several runs (other machines, other sessions).
"""
import csv
import glob
import hashlib
import io
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
import traceback
from argparse import Namespace
from typing import Any, Callable, Dict, List, Optional, Sequence

#: Result columns: (record key in ``chamfer[subset]``, column title). Human / object under HOI alignment, then
#: without alignment (camera space), as in StackFLOW's README table.
CHAMFER_COLUMNS = (('human_hoi', 'HOI aligned human'), ('object_hoi', 'HOI aligned object'),
                   ('human_none', 'w/o alignment human'), ('object_none', 'w/o alignment object'))
#: Metrics whose logged scalars hold the Chamfer summaries (the metric scoring the final prediction).
CHAMFER_METRICS = ('HOIChamferMetric', 'HOISequenceChamferMetric')
#: Where the per-method logs, work dirs and metric files of a benchmark go, under its output folder.
LOGS, RUNS = 'logs', 'runs'
NOT_RUN, FAILED, OK = 'not run', 'failed', 'ok'

Record = Dict[str, Any]


# ---------------------------------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------------------------------
def method_name(config: str) -> str:
    """The row name of a config: its file name without ``.py`` (``configs/baselines/phosa_synthetic.py`` ->
    ``phosa_synthetic``)."""
    return osp.splitext(osp.basename(config))[0]


def new_record(method: str, config: Optional[str] = None, checkpoint: Optional[str] = None,
               refine: Optional[bool] = False, status: str = OK, reason: Optional[str] = None) -> Record:
    """A record with no numbers yet (a reason row when ``status`` is not ``'ok'``)."""
    return dict(method=method, config=config, checkpoint=checkpoint, refine=refine, status=status, reason=reason,
                chamfer=None, visibility_threshold=None, images=None, seconds_per_image=None, wall_s=None,
                peak_memory_mib=None, memory_kind=None, device=None, machine=None, measured_at=None, run=None)


def code_version() -> str:
    """``<hoirecon version>+src.<digest>``: sha256 (12 hex digits) of the source files of the installed hoirecon package
    (every ``.py`` under it, by relative path and content), so that any edit of the code that runs a method, committed
    or not, gives another value, while docs, tests and tools do not count (configs count through
    :func:`config_digest`)."""
    from hoirecon import __version__
    package = osp.dirname(osp.dirname(osp.abspath(__file__)))
    digest = hashlib.sha256()
    for path in sorted(glob.glob(osp.join(package, '**', '*.py'), recursive=True)):
        digest.update(osp.relpath(path, package).encode())
        with open(path, 'rb') as f:
            digest.update(f.read())
    return f'{__version__}+src.{digest.hexdigest()[:12]}'


def config_digest(config: str, cfg_options: Optional[dict] = None) -> str:
    """sha256 (16 hex digits) of the config as it would run: the file with its ``_base_`` files and the
    ``cfg_options`` merged (a change of any of them changes it)."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    text = json.dumps(cfg.to_dict(), sort_keys=True, default=repr)
    text = re.sub(r' at 0x[0-9a-fA-F]+', '', text)  # reprs of functions carry their address
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_identity(config: str, checkpoint: Optional[str], refine: bool, cfg_options: Optional[dict] = None,
                 data_root: Optional[str] = None, code: Optional[str] = None) -> Dict[str, Any]:
    """What a row is measured from: the config (path and :func:`config_digest`), the checkpoint file (path, size,
    modification time: a checkpoint trained again into the same path is another one), post-optimisation,
    ``--cfg-options``, ``--data-root`` and the code (:func:`code_version`). ``resume`` reuses a row only when all of
    them are equal."""
    ckpt = None
    if checkpoint:
        ckpt = dict(path=osp.abspath(checkpoint))
        if osp.isfile(checkpoint):
            stat = os.stat(checkpoint)
            ckpt.update(bytes=stat.st_size, mtime=int(stat.st_mtime))
    try:
        settings = config_digest(config, cfg_options)
    except Exception as error:  # noqa: B902  (a config that does not load is never reused)
        settings = f'unreadable: {type(error).__name__}'
    return dict(config=osp.abspath(config), settings=settings, checkpoint=ckpt, refine=bool(refine),
                cfg_options=json.loads(json.dumps(cfg_options or {}, sort_keys=True, default=repr)),
                data_root=None if data_root is None else osp.abspath(data_root),
                code=code if code is not None else code_version())


def load_records(path: str) -> List[Record]:
    """The records of a benchmark's ``records.json``.

    Raises:
        ValueError: the file is not a list of records (it names the file).
    """
    try:
        records = json.load(open(path))
    except json.JSONDecodeError as error:
        raise ValueError(f'{path}: not a records.json of tools/benchmark.py ({error})') from error
    if not isinstance(records, list) or not all(isinstance(r, dict) and 'method' in r and 'refine' in r
                                                for r in records):
        raise ValueError(f'{path}: not a records.json of tools/benchmark.py (a list of records with "method" and '
                         '"refine" was expected)')
    return [dict(new_record(r['method']), **r) for r in records]


def merge_records(paths: Sequence[str], log: Callable[[str], None] = print) -> List[Record]:
    """The records of several ``records.json`` files in one list, for one table (runs on other machines or in
    other sessions). A row (method, post-optimisation) given by several files is taken from the last one; each such
    replacement is logged."""
    merged: Dict[tuple, Record] = {}
    for path in paths:
        for record in load_records(path):
            key = (record['method'], record['refine'])
            if key in merged:
                log(f'merge: {record["method"]} ({_post(record["refine"])}) of {path} replaces the one read before')
            merged[key] = dict(record, source=path)
    return list(merged.values())


def chamfer_summary(metrics: Dict[str, float], prefix: str = 'hoi_chamfer') -> Dict[str, Any]:
    """The table's numbers from the scalars a Chamfer metric logs (:func:`hoirecon.evaluation.metrics.hoi_report.
    flat_metrics`): ``<prefix>/{human,object}_{hoi,none}`` (mean, cm) with ``..._std``, the same with ``_vis<t>`` for
    the frames with visibility ratio >= t, and ``<prefix>/num_frames``. ``prefix=''`` reads un-prefixed keys.

    Returns:
        ``dict(all={key: [mean, std], 'frames': n}, vis=... or None, threshold=t or None)``; a key the metric did not
        report (e.g. ``alignments=('hoi',)``) is left out.
    """
    head = f'{prefix}/' if prefix else ''
    vis_keys = [key for key in metrics if re.fullmatch(re.escape(head) + r'(human|object)_hoi_vis([0-9.eE+-]+)', key)]
    threshold = float(vis_keys[0].rsplit('_vis', 1)[1]) if vis_keys else None

    def subset(suffix: str) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for key, _ in CHAMFER_COLUMNS:
            mean = metrics.get(f'{head}{key}{suffix}')
            if mean is not None:
                out[key] = [float(mean), float(metrics.get(f'{head}{key}{suffix}_std', float('nan')))]
        return out

    result = dict(all=subset(''), vis=None, threshold=threshold)
    result['all']['frames'] = int(metrics.get(f'{head}num_frames', 0))
    if threshold is not None:
        result['vis'] = subset(f'_vis{threshold:g}')
    return result


def chamfer_evaluator(cfg) -> dict:
    """The config's first Chamfer metric scoring the final prediction (``pred_instances``): the one whose numbers go in
    the table (with sequence metrics per window, the first window's)."""
    from .refinement import test_evaluators
    for evaluator in test_evaluators(cfg):
        if evaluator.get('type') in CHAMFER_METRICS and evaluator.get('pred_field', 'pred_instances') == \
                'pred_instances':
            return evaluator
    raise ValueError(f'{cfg.filename}: test_evaluator has no {" / ".join(CHAMFER_METRICS)} scoring pred_instances, '
                     'so there is no Chamfer distance to put in the table.')


def add_visible_frames(table: Dict[str, Any], result_file: Optional[str]) -> Dict[str, Any]:
    """Put the frame count of the ``vis`` rows (not among the logged scalars) into ``table``
    (:func:`chamfer_summary`) from the metric's JSON file (``summary.visible.num_frames``), when there is one."""
    if table.get('vis') is not None and result_file and osp.isfile(result_file):
        visible = json.load(open(result_file))['summary'].get('visible')
        if visible is not None:
            table['vis']['frames'] = int(visible['num_frames'])
    return table


def config_has_refiner(config: str, cfg_options: Optional[dict] = None) -> bool:
    """Whether ``tools/test.py CONFIG CKPT --refine [--cfg-options ...]`` would post-optimise (a top-level ``refiner``
    or ``model.refiner``)."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg.get('refiner') is not None or cfg.get('model', {}).get('refiner') is not None


def own_checkpoint(work_dir: str) -> Optional[str]:
    """The newest checkpoint that ``tools/train.py`` left in ``work_dir``: the file named by mmengine's
    ``last_checkpoint``, else the highest ``epoch_N.pth`` / ``iter_N.pth``; None when there is none."""
    last = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(last):
        path = open(last).read().strip()
        for candidate in (path, osp.join(work_dir, osp.basename(path))):
            if candidate and osp.isfile(candidate):
                return candidate
    found = []
    for path in glob.glob(osp.join(work_dir, '*.pth')):
        match = re.fullmatch(r'(epoch|iter)_(\d+)\.pth', osp.basename(path))
        if match:
            found.append((int(match.group(2)), path))
    return max(found)[1] if found else None


def checkpoint_fit(model, checkpoint: str) -> Optional[str]:
    """Why ``checkpoint`` cannot be the weights of ``model``, or None when it can: every parameter of the model
    is in its state dict with the same shape (buffers and extra entries are not checked; mmengine loads
    non-strictly, so a mismatch would silently leave random weights)."""
    from hoirecon.engine.checkpoint_compat import load_checkpoint_file
    state = load_checkpoint_file(checkpoint)
    state = state.get('state_dict', state) if isinstance(state, dict) else {}
    model = getattr(model, 'module', model)
    missing, shape = [], []
    for name, param in model.named_parameters():
        if name not in state:
            missing.append(name)
        elif tuple(state[name].shape) != tuple(param.shape):
            shape.append(name)
    if not missing and not shape:
        return None
    parts = ([f'{len(missing)} weights missing (e.g. {missing[0]})'] if missing else []) + \
        ([f'{len(shape)} of another shape (e.g. {shape[0]})'] if shape else [])
    return f'{checkpoint} does not fit this model: ' + ', '.join(parts)


def train_hint(config: str) -> str:
    return f'not run: no checkpoint (train with python tools/train.py {config})'


# ---------------------------------------------------------------------------------------------------------------------
# Peak memory
# ---------------------------------------------------------------------------------------------------------------------
def peak_rss_mib() -> float:
    """Peak resident set size of this process (``VmHWM`` of /proc/self/status; ``ru_maxrss`` elsewhere), MiB."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == 'darwin' else peak / 1024


def reset_peak_rss() -> bool:
    """Restart the peak-RSS count of this process (Linux ``clear_refs``); False where it cannot be reset."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------------------------------
# Running one method
# ---------------------------------------------------------------------------------------------------------------------
def _merged_config(config: str, work_dir: str, cfg_options: Optional[dict], data_root: Optional[str]):
    from mmengine.config import Config

    from .cli import merge_common_args
    cfg = Config.fromfile(config)
    merge_common_args(cfg, Namespace(config=config, cfg_options=cfg_options, data_root=data_root, launcher='none',
                                     work_dir=work_dir))
    return cfg


def run_method(config: str, checkpoint: Optional[str] = None, refine: bool = False, work_dir: str = 'work_dirs/bench',
               cfg_options: Optional[dict] = None, data_root: Optional[str] = None, threads: Optional[int] = None,
               shared_checkpoint: bool = False, fresh_process: bool = False) -> Record:
    """Test one config on its test split, as ``tools/test.py config checkpoint [--refine]``, and return its record.

    Args:
        config: config file.
        checkpoint: its weights; None: a model without parameters runs as it is, one with parameters gives a
            ``'not run'`` record (:func:`train_hint`).
        refine: switch the config's refiners on (:func:`~hoirecon.apis.configure_refinement`); the record holds the
            refined (final) prediction's numbers.
        work_dir: the run's logs and metric files.
        cfg_options, data_root, threads: as ``--cfg-options``, ``--data-root``, ``--threads`` of the tools.
        shared_checkpoint: ``checkpoint`` is the benchmark's shared ``--checkpoint``, not this config's own: a
            checkpoint that does not fit the model (:func:`checkpoint_fit`) gives a ``'not run'`` record instead of
            a failure.
        fresh_process: this process runs nothing else (:func:`run_isolated`): its peak RSS is the method's.

    Returns:
        The record (module docstring). Exceptions propagate (:func:`run_isolated` turns them into records).
    """
    import torch
    from mmengine.runner import Runner

    from hoirecon.engine import configure_threads, hoirecon_checkpoint_loading
    from hoirecon.engine.threads import cpu_description
    from .cli import place_metric_files, register_adaptive_threads
    from .prepare import prepare_experiment
    from .refinement import configure_refinement, metric_prefix

    record = new_record(method_name(config), config, checkpoint, refine)
    reset = fresh_process or reset_peak_rss()
    configure_threads(threads)
    cfg = _merged_config(config, work_dir, cfg_options, data_root)
    cfg.load_from = checkpoint
    cfg.resume = False
    scored = chamfer_evaluator(cfg)
    if not scored.get('out_file'):
        scored['out_file'] = 'hoi_chamfer.json'  # the vis rows' frame count is only in the file
    prefix = metric_prefix(scored)
    configure_refinement(cfg, refine)
    place_metric_files(cfg)
    prepare_experiment(cfg, checkpoint)
    runner = Runner.from_cfg(cfg)
    register_adaptive_threads(runner, threads)
    has_parameters = any(True for _ in runner.model.parameters())
    if getattr(runner.model, 'test_time_optimisation', False):  # it always fits at test time (CHORE-style): a ✓ row
        record['refine'] = True
    if checkpoint is None and has_parameters:
        return dict(record, status=NOT_RUN, reason=train_hint(config))
    if checkpoint is not None:
        misfit = checkpoint_fit(runner.model, checkpoint)
        if misfit is not None:
            if shared_checkpoint:
                return dict(record, status=NOT_RUN, checkpoint=None, reason=f'{train_hint(config)}; --checkpoint '
                            f'{misfit}')
            return dict(record, status=FAILED, reason=f'failed: {misfit}')

    # time the test loop, less the scoring: data, network, refiners (and sequence smoothing) per image
    loop = runner.test_loop
    scoring = [0.0]

    def timed(function):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                scoring[0] += time.perf_counter() - start
        return wrapper

    loop.evaluator.process = timed(loop.evaluator.process)
    loop.evaluator.evaluate = timed(loop.evaluator.evaluate)
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    run = loop.run
    wall = [0.0]

    def timed_run():
        start = time.perf_counter()
        try:
            return run()
        finally:
            if cuda:
                torch.cuda.synchronize()
            wall[0] = time.perf_counter() - start

    loop.run = timed_run
    with hoirecon_checkpoint_loading():
        metrics = runner.test() or {}
    images = len(loop.dataloader.dataset)
    summary = add_visible_frames(chamfer_summary(metrics, prefix), scored['out_file'])
    record.update(chamfer=dict(all=summary['all'], vis=summary['vis']), visibility_threshold=summary['threshold'],
                  images=images, wall_s=wall[0],
                  seconds_per_image=(wall[0] - scoring[0]) / images if images else None,
                  device='cuda' if cuda else 'cpu',
                  machine=torch.cuda.get_device_name() if cuda else
                  f'{cpu_description()}, torch threads {torch.get_num_threads()}')
    if cuda:
        record.update(peak_memory_mib=torch.cuda.max_memory_allocated() / 2**20, memory_kind='CUDA')
    else:
        record.update(peak_memory_mib=peak_rss_mib(),
                      memory_kind='RSS' if fresh_process else 'RSS (in process)' if reset else 'RSS (process peak)')
    return record


def train_method(config: str, work_dir: str, cfg_options: Optional[dict] = None, data_root: Optional[str] = None,
                 threads: Optional[int] = None) -> str:
    """Train ``config`` into ``work_dir`` as ``tools/train.py config --work-dir work_dir`` does (resuming the run
    left there) and return the checkpoint it ends with (:func:`own_checkpoint`)."""
    from mmengine.runner import Runner

    from hoirecon.engine import configure_threads, hoirecon_checkpoint_loading
    from hoirecon.engine.graceful_stop import make_checkpoints_uninterruptible
    from .cli import register_adaptive_threads
    from .prepare import prepare_experiment
    configure_threads(threads)
    cfg = _merged_config(config, work_dir, cfg_options, data_root)
    if own_checkpoint(work_dir) is not None:
        cfg.resume, cfg.load_from = True, None
    prepare_experiment(cfg)
    runner = Runner.from_cfg(cfg)
    register_adaptive_threads(runner, threads)
    make_checkpoints_uninterruptible(runner)
    with hoirecon_checkpoint_loading():
        runner.train()
    checkpoint = own_checkpoint(work_dir)
    if checkpoint is None:
        raise RuntimeError(f'training {config} left no checkpoint in {work_dir}')
    return checkpoint


def _child(function: Callable, kwargs: dict, log_file: str, connection) -> None:
    """Body of the process of :func:`run_isolated`: the output to ``log_file``, the result (or the error) back."""
    sys.stdout.flush()
    sys.stderr.flush()
    with open(log_file, 'a') as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            connection.send(('ok', function(**kwargs)))
        except BaseException as error:  # noqa: B902  (a method's failure is a row of the table)
            traceback.print_exc()
            connection.send(('error', f'{type(error).__name__}: {error}'))
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            connection.close()


def run_isolated(function: Callable, log_file: str, **kwargs) -> Any:
    """Call ``function(**kwargs)`` (:func:`run_method` or :func:`train_method`) in a fresh process whose output goes to
    ``log_file``.

    Returns:
        What it returned.

    Raises:
        RuntimeError: it raised (the message names the exception; the traceback is in ``log_file``) or the process
            died (e.g. killed for memory).
    """
    import multiprocessing
    os.makedirs(osp.dirname(osp.abspath(log_file)), exist_ok=True)
    context = multiprocessing.get_context('spawn')
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(function, kwargs, log_file, send))
    process.start()
    send.close()
    try:
        kind, value = receive.recv()
    except EOFError:
        process.join()
        raise RuntimeError(f'the process died (exit code {process.exitcode}'
                           f'{", killed: out of memory?" if process.exitcode == -9 else ""}); see {log_file}')
    finally:
        process.join()
    if kind == 'error':
        raise RuntimeError(f'{value} (traceback in {log_file})')
    return value


def score_meshes(name: str, pred_dir: str, gt_dir: str, out_dir: str, tool: str, extra_args: Sequence[str] = (),
                 refine: Optional[bool] = None) -> Record:
    """Score another method's exported meshes with ``tool`` (``tools/evaluate_meshes.py``, in a child process) and
    return its record (no time or memory: the meshes were made elsewhere).

    Args:
        name: the row name.
        pred_dir, gt_dir: ``--pred`` and ``--gt`` of the tool (its layout: ``<frame key><suffix>``).
        out_dir: the benchmark's output folder (the tool's JSON file and log go to its ``runs/`` and ``logs/``).
        tool: path of ``tools/evaluate_meshes.py``.
        extra_args: more arguments of the tool (``--visibility``, suffixes, ``--num-samples``).
        refine: post-optimisation of those meshes, when known (``✓`` / ``×``), else None (``-``).
    """
    from hoirecon.evaluation.metrics.hoi_report import flat_metrics
    record = new_record(name, checkpoint=None, refine=refine)
    record['config'] = pred_dir
    for folder in (pred_dir, gt_dir):
        if not osp.isdir(folder):
            return dict(record, status=NOT_RUN, reason=f'not run: mesh folder {folder} not found')
    out_file = osp.join(out_dir, RUNS, f'meshes_{name}.json')
    log_file = osp.join(out_dir, LOGS, f'meshes_{name}.log')
    os.makedirs(osp.dirname(out_file), exist_ok=True)
    os.makedirs(osp.dirname(log_file), exist_ok=True)
    command = [sys.executable, tool, '--pred', pred_dir, '--gt', gt_dir, '--out', out_file, *extra_args]
    with open(log_file, 'w') as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0 or not osp.isfile(out_file):
        tail = open(log_file).read().strip().splitlines()[-1:] or ['']
        return dict(record, status=FAILED, reason=f'failed: evaluate_meshes exited with {done.returncode}: '
                    f'{tail[0][:200]} (log: {log_file})')
    result = json.load(open(out_file))
    protocol, summary = result['protocol'], result['summary']
    metrics = flat_metrics(summary, protocol['alignments'], protocol['visibility_threshold'])
    table = add_visible_frames(chamfer_summary(metrics, prefix=''), out_file)
    return dict(record, chamfer=dict(all=table['all'], vis=table['vis']), visibility_threshold=table['threshold'],
                images=summary['all']['num_frames'] + summary['num_skipped'])


# ---------------------------------------------------------------------------------------------------------------------
# Tables and chart
# ---------------------------------------------------------------------------------------------------------------------
def _mean_std(cell: Optional[Sequence[float]]) -> str:
    return '-' if not cell else f'{cell[0]:.2f}±{cell[1]:.2f}'


def _post(refine: Optional[bool]) -> str:
    return '-' if refine is None else ('✓' if refine else '×')


def table_rows(records: Sequence[Record]) -> List[Dict[str, Any]]:
    """One row per record and visibility subset, in StackFLOW's README order: per method (in the order of first
    appearance), the ``all`` rows (× then ✓), then the ``> t`` rows; a record without numbers gives one reason
    row."""
    methods: Dict[str, List[Record]] = {}
    for record in records:
        methods.setdefault(record['method'], []).append(record)
    rows = []
    for method, group in methods.items():
        group = sorted(group, key=lambda r: (r['refine'] is None, bool(r['refine'])))
        for subset in ('all', 'vis'):
            for record in group:
                chamfer = record.get('chamfer')
                if chamfer is None:
                    if subset == 'all':
                        rows.append(dict(record=record, subset=None, visible='-', cells=None))
                    continue
                if chamfer.get(subset) is None:
                    continue
                threshold = record.get('visibility_threshold')
                visible = 'all' if subset == 'all' else f'>{threshold:g}'
                rows.append(dict(record=record, subset=subset, visible=visible, cells=chamfer[subset]))
    return rows


def _memory(record: Record) -> str:
    if record.get('peak_memory_mib') is None:
        return '-'
    return f"{record['peak_memory_mib']:.0f} ({record['memory_kind']})"


def benchmark_table(records: Sequence[Record], title: Optional[str] = None) -> str:
    """The Markdown table of the records (columns of StackFLOW's README table, plus frames, seconds per image and
    peak memory); reason rows carry the reason in the first result column."""
    header = ['Method', 'Visible ratio', 'Post-optimisation', *(title for _, title in CHAMFER_COLUMNS), 'frames',
              's / image', 'peak memory (MiB)']
    lines = ([f'**{title}**', ''] if title else []) + ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for row in table_rows(records):
        record, cells = row['record'], row['cells']
        if cells is None:
            values = [record['method'], '-', _post(record['refine']), record['reason'] or record['status'],
                      *['-'] * (len(header) - 4)]
        else:
            seconds = record.get('seconds_per_image')
            values = [record['method'], row['visible'], _post(record['refine']),
                      *(_mean_std(cells.get(key)) for key, _ in CHAMFER_COLUMNS), str(cells.get('frames', '-')),
                      '-' if seconds is None else f'{seconds:.3f}', _memory(record)]
        lines.append('| ' + ' | '.join(v.replace('|', '/') for v in values) + ' |')
    timings = timing_machines(records)
    if len(timings) > 1:  # one machine: the reader's report names it; several: the seconds are not comparable
        named = [f"{machine or 'machine not recorded'} ({', '.join(methods)})" for machine, methods in timings.items()]
        lines += ['', 'Timed on different machines: ' + '; '.join(named) + '.']
    return '\n'.join(lines)


def timing_machines(records: Sequence[Record]) -> Dict[Optional[str], List[str]]:
    """The machines (``machine``, None when a record predates the field) that timed the records, each with its rows'
    names (``method ×/✓``), in the records' order; meshes scored without timing are left out."""
    machines: Dict[Optional[str], List[str]] = {}
    for record in records:
        if record.get('seconds_per_image') is None:
            continue
        name = record['method'] if record['refine'] is None else f"{record['method']} {_post(record['refine'])}"
        machines.setdefault(record.get('machine'), []).append(name)
    return machines


#: CSV columns, in order.
CSV_FIELDS = ('method', 'visible_ratio', 'post_optimisation',
              *(f'{key}_{stat}' for key, _ in CHAMFER_COLUMNS for stat in ('mean', 'std')),
              'frames', 'seconds_per_image', 'peak_memory_mib', 'memory_kind', 'device', 'machine', 'status', 'reason',
              'config', 'checkpoint')


def csv_text(records: Sequence[Record]) -> str:
    """The table's rows as CSV (:data:`CSV_FIELDS`; numbers unrounded, empty where there is none)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator='\n')
    writer.writeheader()
    for row in table_rows(records):
        record, cells = row['record'], row['cells'] or {}
        values = dict(method=record['method'], visible_ratio=row['visible'] if row['cells'] else '',
                      post_optimisation='' if record['refine'] is None else int(bool(record['refine'])),
                      frames=cells.get('frames', ''), status=record['status'], reason=record['reason'] or '',
                      config=record.get('config') or '', checkpoint=record.get('checkpoint') or '',
                      device=record.get('device') or '', machine=record.get('machine') or '',
                      memory_kind=record.get('memory_kind') or '')
        for key, _ in CHAMFER_COLUMNS:
            mean, std = cells.get(key, ('', ''))
            values[f'{key}_mean'], values[f'{key}_std'] = mean, std
        for key in ('seconds_per_image', 'peak_memory_mib'):
            values[key] = '' if record.get(key) is None or not row['cells'] else record[key]
        writer.writerow(values)
    return out.getvalue()


def write_csv(records: Sequence[Record], path: str) -> str:
    """Write :func:`csv_text` to ``path``; return ``path``."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', newline='') as f:
        f.write(csv_text(records))
    return path


def write_chart(records: Sequence[Record], path: str, subset: str = 'all') -> str:
    """Bar chart (PNG) of the records' Chamfer distances on ``subset`` ('all' frames or 'vis'): one group of bars per
    method row (name, ``+post-opt`` for ✓), human and object, HOI-aligned (left panel) and without alignment (right),
    the standard deviation as error bars (cut at 0 below: a distance); reason rows are listed under the chart.
    Returns ``path``."""
    import matplotlib
    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt
    import numpy as np
    rows = [r for r in table_rows(records) if r['cells'] is not None and r['subset'] == subset]
    skipped = [r['record'] for r in table_rows(records) if r['cells'] is None]
    labels = [r['record']['method'] + (' +post-opt' if r['record']['refine'] else '') for r in rows]
    width = max(6.0, 1.1 * len(rows) + 2.0)
    fig, axes = plt.subplots(1, 2, figsize=(2 * width, 4.8), squeeze=False)
    x = np.arange(len(rows))
    for ax, alignment, title in zip(axes[0], ('hoi', 'none'), ('HOI aligned', 'w/o alignment')):
        for offset, (part, colour) in zip((-0.2, 0.2), (('human', 'tab:blue'), ('object', 'tab:orange'))):
            cells = [r['cells'].get(f'{part}_{alignment}') for r in rows]
            means = [c[0] if c else np.nan for c in cells]
            stds = [c[1] if c else 0.0 for c in cells]
            below = [min(s, m) if np.isfinite(m) else 0.0 for s, m in zip(stds, means)]  # a distance is >= 0
            ax.bar(x + offset, means, 0.4, yerr=[below, stds], capsize=3, color=colour, label=part)
        ax.set_title(f'{title} Chamfer (cm), {"all frames" if subset == "all" else "visible frames"}')
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=30, ha='right', fontsize=8)
        ax.set_ylabel('cm')
        ax.set_ylim(bottom=0)
        ax.legend()
        ax.grid(axis='y', alpha=0.3)
    if skipped:
        fig.text(0.01, 0.01, 'not in the chart: ' + '; '.join(f"{r['method']} ({r['reason']})" for r in skipped),
                 fontsize=7, wrap=True)
    fig.tight_layout(rect=(0, 0.06 if skipped else 0, 1, 1))
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------------------------------
# The whole benchmark
# ---------------------------------------------------------------------------------------------------------------------
def run_benchmark(methods: Sequence[Dict[str, Any]], out_dir: str, refine: bool = False, train: bool = False,
                  shared_checkpoint: Optional[str] = None, train_root: str = 'work_dirs',
                  cfg_options: Optional[dict] = None, data_root: Optional[str] = None, threads: Optional[int] = None,
                  meshes: Sequence[Dict[str, Any]] = (), evaluate_meshes_tool: Optional[str] = None,
                  isolate: bool = True, body_estimates: Optional[Dict[str, str]] = None,
                  resume: bool = False, merged: Sequence[Record] = (), title: Optional[str] = None,
                  log: Callable[[str], None] = print) -> List[Record]:
    """Run every method and mesh folder; never stop on one that fails. The table, CSV, chart and ``records.json``
    in ``out_dir`` are rewritten after every row (:func:`write_benchmark`), so that a run stopped half-way keeps its
    rows; a ``records.json`` there from before is first kept as ``records.<its time>.json``.

    Args:
        methods: ``dict(config=..., checkpoint=... or None)`` each; a None checkpoint is looked for in
            ``<train_root>/<config name>`` (:func:`own_checkpoint`: what ``tools/train.py CONFIG`` leaves), else
            ``shared_checkpoint`` is tried (used only when it fits the model).
        out_dir: the benchmark's folder (per-run logs in ``logs/``, work dirs and metric files in ``runs/``).
        refine: also the post-optimised (✓) row of each config with a refiner.
        train: train a config that has no checkpoint (:func:`train_method` into ``<train_root>/<config name>``).
        meshes: ``dict(name=..., pred=..., gt=..., args=[...])`` each (:func:`score_meshes`).
        evaluate_meshes_tool: path of ``tools/evaluate_meshes.py`` (needed with ``meshes``).
        isolate: each run in a fresh process (:func:`run_isolated`); False runs them here (peak RSS then the
            process's since :func:`reset_peak_rss`).
        body_estimates: ``dict(config=..., checkpoint=...)`` of a body network whose predictions are written first
            as the split's ``k*.mocap.json`` body estimates (:func:`~.body_estimates.export_body_estimates`, existing
            files kept), the start of the CHORE-style fit; a failure is logged and the methods still run.
        resume: reuse each row of ``out_dir/records.json`` whose :func:`run_identity` (config and settings,
            checkpoint file, post-optimisation, options, code) is the one this run would measure, instead of running
            it again (a run that stopped, say at the end of a session or for a kill, goes on where it stopped).
        merged: records of other runs (:func:`merge_records`) put in the table first; a row of this run with the
            same method and post-optimisation replaces theirs.
        title: title above the Markdown table.
        log: progress lines.

    Returns:
        The records, in the order run.
    """
    records: List[Record] = []
    common = dict(cfg_options=cfg_options, data_root=data_root, threads=threads)
    total = len(methods) + len(meshes)
    records_file = osp.join(out_dir, 'records.json')
    previous = load_records(records_file) if resume and osp.isfile(records_file) else []
    if osp.isfile(records_file):
        kept = osp.join(out_dir, time.strftime('records.%Y%m%d-%H%M%S.json',
                                               time.localtime(os.stat(records_file).st_mtime)))
        os.replace(records_file, kept)
        log(f'the records of the previous run in {out_dir} are kept as {kept}')
    code = code_version()

    def reusable(identity: Dict[str, Any]) -> Optional[Record]:
        for record in previous:
            if record.get('status') == OK and record.get('run') == identity:
                return record
        return None

    def table_records() -> List[Record]:
        done = {(r['method'], r['refine']) for r in records}
        return [r for r in merged if (r['method'], r['refine']) not in done] + records

    def call(function, log_file, **kwargs):
        if isolate:
            return run_isolated(function, log_file, **kwargs)
        try:
            return function(**kwargs)
        except Exception as error:  # noqa: B902  (worded as run_isolated words it)
            traceback.print_exc()
            raise RuntimeError(f'{type(error).__name__}: {error}') from error

    def finish(record: Record) -> Record:
        if record.get('measured_at') is None:
            record['measured_at'] = time.strftime('%Y-%m-%d %H:%M:%S')
        records.append(record)
        write_benchmark(table_records(), out_dir, title)
        if record['chamfer'] is None:
            log(f'    {record["reason"]}')
        else:
            cells = record['chamfer']['all']
            numbers = ' / '.join(_mean_std(cells.get(key)) for key in ('human_hoi', 'object_hoi'))
            extra = '' if record.get('seconds_per_image') is None else \
                f', {record["seconds_per_image"]:.3f} s/image, peak memory {record["peak_memory_mib"]:.0f} MiB ' \
                f'({record["memory_kind"]})'
            log(f'    HOI-aligned human / object {numbers} cm on {cells.get("frames")} frames{extra}')
        return record

    if body_estimates is not None:
        log_file = osp.join(out_dir, LOGS, 'body_estimates.log')
        log(f'[0/{total}] body estimates from {body_estimates["config"]} ({body_estimates["checkpoint"]}); log '
            f'{log_file}')
        log(f'    {write_body_estimates(body_estimates, out_dir, call, log_file, common)}')
    for index, method in enumerate(methods, 1):
        config, checkpoint = method['config'], method.get('checkpoint')
        name = method_name(config)
        log(f'[{index}/{total}] {name} ({config})')
        if not osp.isfile(config):
            finish(new_record(name, config, checkpoint, False, NOT_RUN, f'not run: config {config} not found'))
            continue
        if checkpoint is not None and not osp.isfile(checkpoint):
            finish(new_record(name, config, checkpoint, False, NOT_RUN, f'not run: checkpoint {checkpoint} not found'))
            continue
        shared = False
        if checkpoint is None:
            checkpoint = own_checkpoint(osp.join(train_root, name))
        if checkpoint is None and shared_checkpoint is not None:
            checkpoint, shared = shared_checkpoint, True
        try:
            stages = [False] + ([True] if refine and config_has_refiner(config, cfg_options) else [])
        except Exception as error:  # noqa: B902  (a config that does not even load is a row)
            finish(new_record(name, config, checkpoint, False, FAILED, f'failed: {type(error).__name__}: {error}'))
            continue
        if refine and len(stages) == 1:
            log('    (no refiner in this config: no post-optimised row)')
        for stage in stages:
            label = 'post-optimised' if stage else 'network'
            run_name = name + ('_refine' if stage else '')
            log(f'    {label}: checkpoint {checkpoint or "none"}; log {osp.join(out_dir, LOGS, run_name + ".log")}')
            kwargs = dict(config=config, checkpoint=checkpoint, refine=stage, shared_checkpoint=shared,
                          fresh_process=isolate, work_dir=osp.join(out_dir, RUNS, run_name), **common)
            log_file = osp.join(out_dir, LOGS, run_name + '.log')
            identity = run_identity(config, checkpoint, stage, cfg_options, data_root, code)
            earlier = reusable(identity)
            if earlier is not None:
                log(f'    reused: measured {earlier.get("measured_at") or "before"} with the same config, checkpoint, '
                    'options and code (--resume)')
                finish(dict(earlier))
                continue
            try:
                record = call(run_method, log_file, **kwargs)
                if record['status'] == NOT_RUN and record['checkpoint'] is None and train:
                    work_dir = osp.join(train_root, name)
                    log(f'    training into {work_dir} (log {osp.join(out_dir, LOGS, name + "_train.log")})')
                    checkpoint = call(train_method, osp.join(out_dir, LOGS, name + '_train.log'), config=config,
                                      work_dir=work_dir, **common)
                    shared = False
                    record = call(run_method, log_file, **dict(kwargs, checkpoint=checkpoint, shared_checkpoint=False))
            except Exception as error:  # noqa: B902  (one method's failure is a row, never the end of the run)
                record = new_record(name, config, checkpoint, stage, FAILED, f'failed: {error}')
            if record['checkpoint'] != checkpoint:  # trained here: the row is the trained checkpoint's
                identity = run_identity(config, record['checkpoint'], stage, cfg_options, data_root, code)
            finish(dict(record, run=identity))
            if record['chamfer'] is None:
                break  # the post-optimised run would stop for the same reason
    for index, entry in enumerate(meshes, len(methods) + 1):
        log(f'[{index}/{total}] {entry["name"]} (meshes in {entry["pred"]})')
        try:
            record = score_meshes(entry['name'], entry['pred'], entry['gt'], out_dir, evaluate_meshes_tool,
                                  entry.get('args', ()))
        except Exception as error:  # noqa: B902
            record = new_record(entry['name'], entry['pred'], None, None, FAILED,
                                f'failed: {type(error).__name__}: {error}')
        finish(record)
    return table_records()


def write_body_estimates(source: Dict[str, str], out_dir: str, call: Callable, log_file: str,
                         common: Dict[str, Any]) -> str:
    """Write the body estimates of ``source`` (``config``, ``checkpoint``) by ``call`` (run_benchmark's runner: a
    child process) and return one line saying what happened (never raises)."""
    from .body_estimates import export_body_estimates
    for key in ('config', 'checkpoint'):
        if not osp.isfile(source[key]):
            return f'not written: {key} {source[key]} not found (the CHORE-style fit starts from its fields)'
    try:
        metrics = call(export_body_estimates, log_file, config=source['config'], checkpoint=source['checkpoint'],
                       work_dir=osp.join(out_dir, RUNS, 'body_estimates'), **common)
    except Exception as error:  # noqa: B902  (the methods still run, CHORE-style from its fields)
        return f'not written: {error}'
    return (f"{int(metrics.get('body_estimates/written', 0))} written, "
            f"{int(metrics.get('body_estimates/skipped', 0))} already there (kept)")


def write_benchmark(records: Sequence[Record], out_dir: str, title: Optional[str] = None) -> Dict[str, str]:
    """Write ``benchmark.md``, ``benchmark.csv``, ``benchmark.png`` (all frames) and ``records.json`` to
    ``out_dir``; return their paths by kind."""
    os.makedirs(out_dir, exist_ok=True)
    paths = dict(markdown=osp.join(out_dir, 'benchmark.md'), csv=osp.join(out_dir, 'benchmark.csv'),
                 chart=osp.join(out_dir, 'benchmark.png'), records=osp.join(out_dir, 'records.json'))
    with open(paths['markdown'], 'w') as f:
        f.write(benchmark_table(records, title) + '\n')
    write_csv(records, paths['csv'])
    write_chart(records, paths['chart'])
    with open(paths['records'], 'w') as f:
        json.dump(list(records), f, indent=1)
    return paths
