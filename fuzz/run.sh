#!/usr/bin/env bash
# Coverage-guided fuzzing of every reader of untrusted bytes with AFL++ through SharpFuzz (docs/reliability.md).
#
#   fuzz/run.sh TARGET|all [MINUTES]     fuzz one target (or each in turn) for MINUTES each (default 10)
#   fuzz/run.sh replay TARGET|all        replay the committed corpus and regressions in-process (what the tests do)
#   fuzz/run.sh seed                     rewrite fuzz/corpus/* with the library's own writers
#   fuzz/run.sh specs [YAML] [DECLS]     the generator's random-spec tests at YAML specs and DECLS attribute
#                                        declarations (default 7000 and 3000)
#
# Targets: safetensors official deepspeed neox tokenizer onnx-card spec. Installs what it needs (Debian's afl++, the
# SharpFuzz.CommandLine tool from fuzz/dotnet-tools.json), builds the fuzz host, instruments a copy of the readers'
# assemblies (TokenformerGen.dll: Checkpoints and Data; TokenformerGen.Text.dll: Data, the tokenizers, and Inference,
# the ONNX model card;
# TokenformerGen.Generator.dll) in fuzz/out/bin, and runs one
# afl-fuzz at a time under nice. Findings land in fuzz/out/TARGET/; a crash or hang is replayed in-process so its
# exception is printed, and the run's figures are appended to fuzz/out/summary.tsv.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
out="$here/out"
targets=(safetensors official deepspeed neox tokenizer onnx-card spec)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 1 ] || usage

selected() {   # the targets an argument names
  if [ "$1" = all ]; then echo "${targets[@]}"; return; fi
  for t in "${targets[@]}"; do [ "$t" = "$1" ] && { echo "$t"; return; }; done
  echo "unknown target '$1' (targets: ${targets[*]} or all)" >&2; exit 2
}

build() {
  nice -n 19 dotnet build "$here/TokenformerGen.Fuzz/TokenformerGen.Fuzz.csproj" -c Release -nologo -v quiet
  host="$here/TokenformerGen.Fuzz/bin/Release/net10.0"
}

case "$1" in
  seed)
    build
    nice -n 19 dotnet "$host/TokenformerGen.Fuzz.dll" seed "$repo" "$here/corpus"
    exit 0 ;;
  replay)
    [ $# -ge 2 ] || usage
    build
    status=0
    for t in $(selected "$2"); do
      nice -n 19 dotnet "$host/TokenformerGen.Fuzz.dll" replay "$t" "$here/corpus/$t" $( [ -d "$here/regressions/$t" ] && echo "$here/regressions/$t" ) | tail -n 1 || status=1
    done
    exit $status ;;
  specs)
    cd "$repo"
    TFG_FUZZ_SPECS="${2:-7000}" TFG_FUZZ_DECLARATIONS="${3:-3000}" nice -n 19 dotnet test tests/TokenformerGen.Generator.Tests -c Release --filter "FullyQualifiedName~FuzzTests" \
      --logger "console;verbosity=detailed" | grep -E "mutated|Passed|Failed|Total" || true
    exit "${PIPESTATUS[0]}" ;;
esac

minutes="${2:-10}"
list=$(selected "$1")

# What the fuzzer needs: AFL++ (Debian) and the sharpfuzz instrumenting tool (a dotnet tool pinned in the manifest).
if ! command -v afl-fuzz >/dev/null; then
  echo "installing afl++ (Debian)"
  as_root=$([ "$(id -u)" -eq 0 ] || echo sudo)
  $as_root apt-get update -qq && $as_root apt-get install -y -qq afl++ >/dev/null
fi
(cd "$here" && dotnet tool restore >/dev/null)

build
# A copy of the output with the readers' assemblies instrumented (the build's own output stays untouched, and a
# build during a run cannot change what is being fuzzed).
rm -rf "$out/bin"
mkdir -p "$out"
cp -a "$host" "$out/bin"
(cd "$here" && dotnet tool run sharpfuzz "$out/bin/TokenformerGen.dll" TokenformerGen.Checkpoints TokenformerGen.Data >/dev/null)
(cd "$here" && dotnet tool run sharpfuzz "$out/bin/TokenformerGen.Text.dll" TokenformerGen.Text.Data TokenformerGen.Text.Onnx >/dev/null)
(cd "$here" && dotnet tool run sharpfuzz "$out/bin/TokenformerGen.Generator.dll" TokenformerGen.Generator >/dev/null)

# The fork server runs in-process (SharpFuzz's persistent loop), so afl-fuzz sees a .NET host, not an instrumented ELF.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 \
       AFL_FORKSRV_INIT_TMOUT=120000 AFL_SKIP_CRASHES=1
[ -f "$out/summary.tsv" ] || printf 'target\tminutes\texecs_done\texecs_per_sec\tcorpus_count\tedges_found\tsaved_crashes\tsaved_hangs\tfinished\n' > "$out/summary.tsv"

status=0
for t in $list; do
  work="$out/$t"
  rm -rf "$work"
  mkdir -p "$work/in"
  cp "$here/corpus/$t"/* "$work/in/"
  [ -d "$here/regressions/$t" ] && find "$here/regressions/$t" -type f ! -name '*.md' -exec cp {} "$work/in/" \;
  echo "== $t: afl-fuzz for $minutes min"
  # -t 1000: the issue's hang limit (1 s per input); -m none: the .NET runtime maps far more than AFL's default limit.
  nice -n 19 afl-fuzz -i "$work/in" -o "$work/findings" -t 1000 -m none -V $((minutes * 60)) \
    -- dotnet "$out/bin/TokenformerGen.Fuzz.dll" afl "$t" "$work/in" > "$work/afl.log" 2>&1 || { echo "afl-fuzz failed; see $work/afl.log"; tail -n 20 "$work/afl.log"; status=1; continue; }
  stats="$work/findings/default/fuzzer_stats"
  get() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$minutes" "$(get execs_done)" "$(get execs_per_sec)" "$(get corpus_count)" \
    "$(get edges_found)" "$(get saved_crashes)" "$(get saved_hangs)" "$(date -u +%FT%TZ)" | tee -a "$out/summary.tsv"
  for kind in crashes hangs; do
    found=$(find "$work/findings/default/$kind" -type f -name 'id:*' 2>/dev/null | wc -l)
    if [ "$found" -gt 0 ]; then
      status=1
      echo "$t: $found $kind; replayed in-process:"
      nice -n 19 dotnet "$host/TokenformerGen.Fuzz.dll" replay "$t" "$work/findings/default/$kind" | grep -aE "FAILED|files" || true
    fi
  done
done
exit $status
