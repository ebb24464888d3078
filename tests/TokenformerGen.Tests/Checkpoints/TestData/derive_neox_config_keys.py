"""Derives neox-config-keys.tsv: every key the official TokenFormer trainer's config class accepts, with its type.

NeoXArgs (megatron/neox_arguments/arguments.py) is a dataclass inheriting the fields of NeoXArgsDeepspeedRunner,
NeoXArgsDeepspeedConfig (deepspeed_args.py), NeoXArgsModel, NeoXArgsLRScheduler, NeoXArgsOptimizer,
NeoXArgsTokenizer, NeoXArgsTraining, NeoXArgsParallelism, NeoXArgsLogging, NeoXArgsTextgen and NeoXArgsOther
(neox_args.py). A YAML key (with '-' read as '_') that is not one of those annotated fields makes NeoXArgs(**config)
fail, and validate_types() refuses a value whose type differs from the annotation (an int passes for a float;
a Literal takes one of its values, strings case-insensitively; a Union one of its types; None always).
This script reads the annotations with Python's ast module, without importing (or running) the trainer.

Run: python3 derive_neox_config_keys.py TOKENFORMER_CHECKOUT COMMIT > neox-config-keys.tsv
"""
import ast, sys

root, commit = sys.argv[1], sys.argv[2]
files = ["megatron/neox_arguments/deepspeed_args.py", "megatron/neox_arguments/neox_args.py"]
classes = ["NeoXArgsDeepspeedRunner", "NeoXArgsDeepspeedConfig", "NeoXArgsModel", "NeoXArgsLRScheduler", "NeoXArgsOptimizer",
           "NeoXArgsTokenizer", "NeoXArgsTraining", "NeoXArgsParallelism", "NeoXArgsLogging", "NeoXArgsTextgen", "NeoXArgsOther"]
fields = {}
for path in files:
    tree = ast.parse(open(f"{root}/{path}").read())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name in classes:
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    fields.setdefault(item.target.id, (ast.unparse(item.annotation).replace("\n", " "), node.name))
missing = [c for c in classes if not any(owner == c for _, owner in fields.values())]
assert not missing, missing

print(f"# Keys the official TokenFormer trainer's config class (NeoXArgs) accepts, with their annotated types.")
print(f"# Source: github.com/Haiyang-W/TokenFormer at commit {commit}, {', '.join(files)}")
print(f"# (the annotated fields of the {len(classes)} dataclasses NeoXArgs inherits, as megatron/neox_arguments/arguments.py lists them).")
print(f"# Made by derive_neox_config_keys.py beside this file. Columns: key, type annotation, declaring class.")
for key in sorted(fields):
    annotation, owner = fields[key]
    print(f"{key}\t{annotation}\t{owner}")
