#!/usr/bin/python3
"""Checks tests/jinja/jinja2_cases.json against Jinja2 itself.

Each case is a template (plus optional variables) and what Hugging Face's
chat-template renderer makes of it: the exact output ("expect") or an error
("expect_error": true). This renders every case with Jinja2 configured as
transformers configures it (ImmutableSandboxedEnvironment, trim_blocks,
lstrip_blocks, loop controls, tojson without ASCII escaping,
raise_exception) and fails if Jinja2 disagrees with any recorded result, so
the C++ test that holds tokenfab to the same file is held to Jinja2.

Usage: jinja2_reference.py CASES.json           check (exit 1 on a mismatch)
       jinja2_reference.py CASES.json --print   show what Jinja2 renders
"""
import json
import sys

try:
    import jinja2
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError:
    sys.exit("jinja2_reference: python3-jinja2 is not installed (scripts/install-deps.sh installs it)")


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


def render(env, case):
    variables = {"messages": [], "tools": None, "add_generation_prompt": False,
                 "bos_token": "<s>", "eos_token": "</s>"}
    variables.update(case.get("vars", {}))
    try:
        return True, env.from_string(case["template"]).render(**variables)
    except Exception as e:  # Jinja2's and Python's errors alike: the template fails
        return False, f"{type(e).__name__}: {e}"


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    env = make_env()
    mismatches = 0
    for case in cases:
        ok, out = render(env, case)
        if len(sys.argv) > 2 and sys.argv[2] == "--print":
            print(json.dumps({"template": case["template"], "ok": ok, "out": out}, ensure_ascii=False))
            continue
        want_error = case.get("expect_error", False)
        agrees = (not ok) if want_error else (ok and out == case.get("expect"))
        if not agrees:
            mismatches += 1
            want = "an error" if want_error else repr(case.get("expect"))
            got = repr(out) if ok else out
            print(f"MISMATCH {case['template']!r}: recorded {want}, Jinja2 {jinja2.__version__} gives {got}")
    if len(sys.argv) > 2:
        return 0
    print(f"jinja2_reference: {len(cases) - mismatches}/{len(cases)} cases agree with Jinja2 {jinja2.__version__}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
