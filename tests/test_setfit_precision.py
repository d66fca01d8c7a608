"""bench.setfit_precision's bf16 emulation: autocast with its matmuls on fp32 kernels."""
import torch

from bench.setfit_precision import emulated_bf16


def linear_layer_and_input():
    torch.manual_seed(0)
    layer = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.GELU(), torch.nn.LayerNorm(32))
    x = torch.randn(8, 64, requires_grad=True)
    return layer, x


def run(layer, x, context):
    layer.zero_grad()
    x.grad = None
    with context:
        y = torch.matmul(layer(x), torch.randn(32, 16, generator=torch.Generator().manual_seed(1)))
        y.float().pow(2).sum().backward()
    return y.float().detach(), x.grad.clone(), layer[0].weight.grad.clone()


def test_emulation_matches_autocast_forward_and_backward():
    layer, x = linear_layer_and_input()
    emulated = run(layer, x, emulated_bf16())
    autocast = run(layer, x, torch.autocast("cpu", dtype=torch.bfloat16))
    fp32 = run(layer, x, torch.autocast("cpu", enabled=False))
    for name, e, a, f in zip(("output", "input grad", "weight grad"), emulated, autocast, fp32, strict=True):
        emulation_error = ((e - a).norm() / a.norm()).item()
        fp32_error = ((f - a).norm() / a.norm()).item()
        # the same roundings, so far closer to autocast than fp32 is (only the order of sums may differ)
        assert emulation_error < fp32_error / 10, (name, emulation_error, fp32_error)


class MatmulSpy(torch.utils._python_dispatch.TorchDispatchMode):
    """Entered below the emulation: records the matmul kernels it calls and their operands' dtype."""
    MATMULS = (torch.ops.aten.linear.default, torch.ops.aten.addmm.default, torch.ops.aten.mm.default)

    def __init__(self):
        super().__init__()
        self.seen = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in self.MATMULS:
            self.seen.append((func, args[0].dtype))
        return func(*args, **(kwargs or {}))


def test_matmuls_run_on_fp32_kernels():
    a, b = torch.randn(4, 8), torch.randn(8, 3)
    with MatmulSpy() as spy, emulated_bf16():
        out = a @ b
    assert spy.seen == [(torch.ops.aten.mm.default, torch.float32)] and out.dtype == torch.bfloat16
    assert torch.equal(out, (a.bfloat16().float() @ b.bfloat16().float()).bfloat16())


def test_inference_mode_linear_runs_on_fp32_kernels():
    """Under inference mode nn.Linear reaches the mode as aten.linear, not addmm."""
    layer = torch.nn.Linear(8, 4)
    with torch.inference_mode(), MatmulSpy() as spy, emulated_bf16():
        out = layer(torch.randn(2, 3, 8))
    assert spy.seen and all(dtype == torch.float32 for _, dtype in spy.seen)  # no bf16 matmul kernel was called
    assert out.dtype == torch.bfloat16
