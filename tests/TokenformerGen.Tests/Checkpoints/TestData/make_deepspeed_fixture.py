"""Writes deepspeed-trainer-save/: a DeepSpeed checkpoint directory shaped like one the official TokenFormer trainer
(GPT-NeoX on DeeperSpeed 02e2ebf7, pipe_parallel_size 1, fp16, ZeRO stage 1) saves, for a 1-layer model of
TinyTokenformer's shapes (vocab 11, d 4, qkv 3, proj 5, ffn 6), without needing PyTorch.

The pickle is made by Python's own pickle module, protocol 2 (torch.save's), with the same opcode stream torch emits:
classes and functions are stand-ins registered under the real module names, so the file references
torch._utils._rebuild_tensor_v2, torch.HalfStorage, collections.OrderedDict, deepspeed.runtime.config.DeepSpeedConfig,
numpy.core.multiarray._reconstruct, torch.Size, builtins.set and _codecs.encode exactly as a real save does.
Entries follow DeepSpeedEngine._save_checkpoint (module, buffer_names, optimizer, param_shapes, frozen_param_shapes,
shared_params, frozen_param_fragments, lr_scheduler, data_sampler, random_ltd, sparse_tensor_module_names,
skipped_steps, global_steps, global_samples, dp_world_size, mp_world_size, ds_config, ds_version) plus the client
state of megatron/checkpointing.py save_ds_checkpoint (iteration, args, RNG states).

Weights: the module's tensors are float16 views into one flat storage (as ZeRO's flattening leaves them), starting 8
elements in, in model order; element k of that storage is ((k * 37) % 101 - 50) / 16. The word embedding is instead
a bfloat16 storage holding its transpose (the tensor is a strided view of it), element k = (k % 23 - 11) / 8.

Run: python3 make_deepspeed_fixture.py OUTPUT_DIR
"""
import collections, io, os, pickle, struct, sys, types, zipfile

def module(name):
    m = types.ModuleType(name)
    sys.modules[name] = m
    return m

torch, torch_utils = module("torch"), module("torch._utils")
torch._utils = torch_utils
for name in ["deepspeed", "deepspeed.runtime", "deepspeed.runtime.config", "numpy", "numpy.core", "numpy.core.multiarray"]:
    module(name)

def _rebuild_tensor_v2(*args): raise NotImplementedError
_rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
torch_utils._rebuild_tensor_v2 = _rebuild_tensor_v2

def storage_class(name):
    cls = type(name, (), {"__module__": "torch"})
    setattr(torch, name, cls)
    return cls
HalfStorage, BFloat16Storage, ByteStorage = storage_class("HalfStorage"), storage_class("BFloat16Storage"), storage_class("ByteStorage")

class Size(tuple):
    def __reduce__(self): return (Size, (tuple(self),))
Size.__module__, Size.__qualname__ = "torch", "Size"
torch.Size = Size

class DeepSpeedConfig:   # the engine's config object: pickled with its whole __dict__
    pass
DeepSpeedConfig.__module__ = "deepspeed.runtime.config"
sys.modules["deepspeed.runtime.config"].DeepSpeedConfig = DeepSpeedConfig

class ndarray:
    def __reduce__(self):
        return (_reconstruct, (ndarray, (0,), b"b"), (1, (624,), dtype("u4"), False, self.raw))
ndarray.__module__ = "numpy"
sys.modules["numpy"].ndarray = ndarray
class dtype:
    def __init__(self, code): self.code = code
    def __reduce__(self): return (dtype, (self.code, False, True), (3, "<", None, None, None, -1, -1, 0))
dtype.__module__ = "numpy"
sys.modules["numpy"].dtype = dtype
def _reconstruct(*args): raise NotImplementedError
_reconstruct.__module__, _reconstruct.__qualname__ = "numpy.core.multiarray", "_reconstruct"
sys.modules["numpy.core.multiarray"]._reconstruct = _reconstruct

class Storage:
    def __init__(self, cls, key, fmt, values):
        self.cls, self.key, self.fmt, self.values = cls, key, fmt, values
    def data(self):
        return struct.pack("<%d%s" % (len(self.values), self.fmt), *self.values)

class Tensor:
    def __init__(self, storage, offset, size, stride, requires_grad=False):
        self.storage, self.offset, self.size, self.stride, self.requires_grad = storage, offset, size, stride, requires_grad
    def __reduce_ex__(self, protocol):
        return (_rebuild_tensor_v2, (self.storage, self.offset, tuple(self.size), tuple(self.stride), self.requires_grad, collections.OrderedDict()))

class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.cls, obj.key, "cuda:0", len(obj.values))
        return None

def half_bits(x):
    return struct.unpack("<H", struct.pack("<e", x))[0]

def bf16_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0] >> 16   # exact: the values need 8 mantissa bits at most

layers, vocab, d, qkv, proj, ffn = 1, 11, 4, 3, 5, 6
shapes = collections.OrderedDict()
shapes["sequential.0.word_embeddings.weight"] = (vocab, d)
for p, n in [("query", qkv), ("key", qkv), ("value", qkv), ("proj", proj)]:
    shapes[f"sequential.2.attention.{p}.key_param_tokens"] = (n, d)
    shapes[f"sequential.2.attention.{p}.value_param_tokens"] = (n, d)
shapes["sequential.2.mlp.key_param_tokens"] = (ffn, d)
shapes["sequential.2.mlp.value_param_tokens"] = (ffn, d)
shapes["sequential.4.norm.weight"] = (d,)
shapes["sequential.4.norm.bias"] = (d,)

flat_names = [n for n in shapes if not n.startswith("sequential.0.")]
flat_numel = 8 + sum(a * (b if len(s) > 1 else 1) for s in [shapes[n] for n in flat_names] for a, b in [(s[0], s[-1])])
flat = Storage(HalfStorage, "0", "H", [half_bits(((k * 37) % 101 - 50) / 16) for k in range(flat_numel)])
embedding = Storage(BFloat16Storage, "1", "H", [bf16_bits((k % 23 - 11) / 8) for k in range(vocab * d)])
rng = Storage(ByteStorage, "2", "B", list(range(16)))

module_sd = collections.OrderedDict()
module_sd["sequential.0.word_embeddings.weight"] = Tensor(embedding, 0, (vocab, d), (1, vocab))   # a transposed view
offset = 8
for name in flat_names:
    shape = shapes[name]
    stride = (shape[1], 1) if len(shape) == 2 else (1,)
    module_sd[name] = Tensor(flat, offset, shape, stride)
    offset += shape[0] * (shape[1] if len(shape) == 2 else 1)
module_sd._metadata = collections.OrderedDict([("", {"version": 1}), ("sequential", {"version": 1})])

config = DeepSpeedConfig()
config.__dict__.update({"train_batch_size": 1024, "zero_config": DeepSpeedConfig(), "fp16_enabled": True, "optimizer_params": {"lr": 0.0006, "betas": [0.9, 0.95]}})
state = {
    "module": module_sd,
    "buffer_names": [],
    "optimizer": None,
    "param_shapes": [collections.OrderedDict((n, Size(s)) for n, s in shapes.items())],
    "frozen_param_shapes": None,
    "shared_params": {},
    "frozen_param_fragments": None,
    "lr_scheduler": {"max_lr": 0.0006, "warmup_iter": 1430, "num_iters": 500, "decay_style": "cosine", "end_iter": 143000, "min_lr": 6e-05},
    "data_sampler": None,
    "random_ltd": None,
    "sparse_tensor_module_names": set(),
    "skipped_steps": 3,
    "global_steps": 500,
    "global_samples": 512000,
    "dp_world_size": 8,
    "mp_world_size": 1,
    "ds_config": config,
    "ds_version": "0.12.4+02e2ebf7",
    "iteration": 500,
    "args": {"num_layers": layers, "hidden_size": d, "num_attention_heads": 1, "max_position_embeddings": 16,
             "make_vocab_size_divisible_by": 1, "padded_vocab_size": vocab, "tokenizer_type": "HFTokenizer", "model_parallel_size": 1},
    "random_rng_state": (3, tuple([2147483648 + i for i in range(4)] + [624]), None),
    "np_rng_state": ("MT19937", ndarray(), 624, 0, 0.0),
    "torch_rng_state": Tensor(rng, 0, (16,), (1,)),
    "cuda_rng_state": Tensor(rng, 0, (16,), (1,)),
    "rng_tracker_states": {"model-parallel-rng": Tensor(rng, 0, (16,), (1,))},
}
ndarray.raw = bytes(range(256)) * 2

out = sys.argv[1]
folder = os.path.join(out, "global_step500")
os.makedirs(folder, exist_ok=True)
buffer = io.BytesIO()
TorchPickler(buffer, protocol=2).dump(state)
def record(z, name, data):   # a fixed date keeps the file reproducible
    z.writestr(zipfile.ZipInfo("mp_rank_00_model_states/" + name, date_time=(2025, 1, 1, 0, 0, 0)), data)
with zipfile.ZipFile(os.path.join(folder, "mp_rank_00_model_states.pt"), "w", zipfile.ZIP_STORED) as z:
    record(z, "data.pkl", buffer.getvalue())
    record(z, "byteorder", "little")
    for storage in (flat, embedding, rng):
        record(z, "data/" + storage.key, storage.data())
    record(z, "version", "3\n")
with open(os.path.join(out, "latest"), "w") as f:
    f.write("global_step500")
