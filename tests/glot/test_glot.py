"""glot-client suite: for every glot language whose runbox image is built,
the two requests glot.io's web app sends, checked as glot's image tests
check them.

  hello:   {"runInstructions": {"buildCommands": [glot's], "runCommand":
           glot's}, "files": [{"name": glot's main file, "content": a hello
           world}], "stdin": null}; passes when error and stderr are empty
           and stdout, trimmed, without quotes and lowercased, reads
           "hello world!".
  version: {"runInstructions": {"buildCommands": [], "runCommand": glot's
           version command}, "files": [], "stdin": null}; passes when error
           is empty and stdout is one non-empty line.

The commands, main file names and image names are glot's, word for word
(../shared/glot-languages.md). The image named is glot's alias when the
service's GET /images lists it under "aliases" for runbox's image, else
runbox's own name (said in the output): the suite runs before and after
runboxd knows aliases.

Started by tests/glot/run, which sets RUNBOX_URL, RUNBOX_TOKEN and
RUNBOX_CONF. An image that is not built is skipped.
Usage: test_glot.py [LANGUAGE...]   (glot's language names)
"""
import configparser
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import runbox_client as rc  # noqa: E402


class L:
    """A glot language: glot's image, runbox's image (None: runbox has none),
    glot's main file, build commands, run command and version command, and
    a program printing "Hello World!"."""

    def __init__(self, glot, runbox, main, build, run, version, hello):
        self.glot, self.runbox, self.main = glot, runbox, main
        self.build, self.run, self.version, self.hello = build, run, version, hello


_ASM = """section .data
    msg db "Hello World!", 10
    len equ $ - msg

section .text
    global _start

_start:
    mov rax, 1
    mov rdi, 1
    mov rsi, msg
    mov rdx, len
    syscall

    mov rax, 60
    mov rdi, 0
    syscall
"""

_COBOL = """       IDENTIFICATION DIVISION.
       PROGRAM-ID. hello.

       PROCEDURE DIVISION.
           DISPLAY 'Hello World!'
           GOBACK
           .
"""

# glot's languages, in glot-languages.md's order.
GLOT = {
    "assembly": L("glot/assembly:latest", "runbox/assembly:latest", "main.asm",
                  ["nasm -f elf64 -o a.o main.asm", "ld -o a.out a.o"], "./a.out",
                  "nasm --version", _ASM),
    "ats": L("glot/ats:latest", "runbox/ats:latest", "main.dats",
             ["patscc -o a.out main.dats"], "./a.out", "patscc -vats",
             '#include "share/atspre_staload.hats"\n\n'
             'implement main0 () = print ("Hello World!\\n")\n'),
    "bash": L("glot/bash:latest", "runbox/bash:latest", "main.sh",
              [], "bash main.sh", "bash --version | head -n 1",
              'echo "Hello World!"\n'),
    "c": L("glot/clang:latest", "runbox/clang:latest", "main.c",
           ["clang -o a.out -lm main.c"], "./a.out", "clang --version | head -n 1",
           '#include <stdio.h>\n\nint main(void) {\n    printf("Hello World!\\n");\n'
           '    return 0;\n}\n'),
    "clisp": L("glot/clisp:latest", "runbox/clisp:latest", "main.lsp",
               [], "sbcl --noinform --non-interactive --load main.lsp", "sbcl --version",
               '(format t "Hello World!~%")\n'),
    "clojure": L("glot/clojure:latest", "runbox/clojure:latest", "main.clj",
                 [], "clj -M main.clj", "clj --version",
                 '(println "Hello World!")\n'),
    "cobol": L("glot/cobol:latest", "runbox/cobol:latest", "main.cob",
               ["cobc -x -o a.out main.cob"], "./a.out", "cobc --version | head -n 1",
               _COBOL),
    "coffeescript": L("glot/coffeescript:latest", "runbox/coffeescript:latest", "main.coffee",
                      [], "coffee main.coffee", "coffee --version",
                      'console.log "Hello World!"\n'),
    "cpp": L("glot/clang:latest", "runbox/clang:latest", "main.cpp",
             ["clang++ -std=c++11 -o a.out main.cpp"], "./a.out", "clang --version | head -n 1",
             '#include <iostream>\nusing namespace std;\n\nint main() {\n'
             '    cout << "Hello World!";\n    return 0;\n}\n'),
    "crystal": L("glot/crystal:latest", "runbox/crystal:latest", "main.cr",
                 [], "crystal run main.cr", "crystal --version | head -n 1",
                 'puts "Hello World!"\n'),
    "csharp": L("glot/csharp:latest", "runbox/csharp:latest", "main.cs",
                ["mcs -out:a.exe main.cs"], "mono a.exe", "mcs --version",
                'using System;\nusing System.Collections.Generic;\nusing System.Linq;\n\n'
                'class MainClass {\n    static void Main() {\n'
                '        Console.WriteLine("Hello World!");\n    }\n}\n'),
    "d": L("glot/dlang:latest", "runbox/d:latest", "main.d",
           ["dmd -ofa.out main.d"], "./a.out", "dmd --version | head -n 1",
           'import std.stdio;\n\nvoid main()\n{\n    writeln("Hello World!");\n}\n'),
    "dart": L("glot/dart:latest", None, "main.dart", [], "dart main.dart", "dart --version",
              'void main() {\n    print("Hello World!");\n}\n'),
    "elixir": L("glot/elixir:latest", "runbox/elixir:latest", "main.ex",
                [], "elixirc main.ex", "elixirc --version | tail -n 1",
                'IO.puts "Hello World!"\n'),
    "elm": L("glot/elm:latest", None, "Main.elm", ["elm make --output a.js Main.elm"],
             "elm-runner a.js", "elm --version",
             'module Main exposing (main)\n\nimport Html exposing (..)\n\n'
             'main =\n    text "Hello World!"\n'),
    "erlang": L("glot/erlang:latest", "runbox/erlang:latest", "main.erl",
                [], "escript main.erl", "erl -version 2>&1",
                '% escript will ignore the first line\n\nmain(_) ->\n'
                '    io:format("Hello World!~n").\n'),
    "fsharp": L("glot/fsharp:latest", None, "main.fs", ["fsharpc --out:a.exe main.fs"],
                "mono a.exe", "fsharpc --version 2>/dev/null | head -n 1",
                'printfn "Hello World!"\n'),
    "go": L("glot/golang:latest", "runbox/go:latest", "main.go",
            ["go build -o a.out main.go"], "./a.out", "go version",
            'package main\n\nimport (\n    "fmt"\n)\n\nfunc main() {\n'
            '    fmt.Println("Hello World!")\n}\n'),
    "groovy": L("glot/groovy:latest", "runbox/groovy:latest", "main.groovy",
                [], "groovy main.groovy", "groovy --version",
                'println "Hello World!"\n'),
    "guile": L("glot/guile:latest", "runbox/guile:latest", "main.scm",
               [], "guile --no-debug --fresh-auto-compile --no-auto-compile -s main.scm",
               "guile --version | head -n 1",
               '(display "Hello World!")\n(newline)\n'),
    "hare": L("glot/hare:latest", None, "main.ha", ["hare build -o a.out main.ha"],
              "./a.out", "hare version",
              'use fmt;\n\nexport fn main() void = {\n    fmt::println("Hello World!")!;\n};\n'),
    "haskell": L("glot/haskell:latest", "runbox/haskell:latest", "main.hs",
                 [], "runghc main.hs", "ghc --version",
                 'main = putStrLn "Hello World!"\n'),
    "idris": L("glot/idris:latest", None, "main.idr",
               ["idris2 -o a.out --output-dir . main.idr"], "./a.out", "idris2 --version",
               'module Main\n\nmain : IO ()\nmain = putStrLn "Hello World!"\n'),
    "java": L("glot/java:latest", "runbox/java:latest", "main.java",
              ["javac main.java"], "java Main", "javac --version",
              'class Main {\n    public static void main(String[] args) {\n'
              '        System.out.println("Hello World!");\n    }\n}\n'),
    "javascript": L("glot/javascript:latest", "runbox/javascript:latest", "main.js",
                    [], "node main.js", "node --version",
                    'console.log("Hello World!");\n'),
    "julia": L("glot/julia:latest", None, "main.jl", [], "julia main.jl", "julia --version",
               'println("Hello World!")\n'),
    "kotlin": L("glot/kotlin:latest", "runbox/kotlin:latest", "main.kt",
                ["kotlinc main.kt"], "kotlin MainKt", "kotlinc -version 2>&1 | cut -c 7-",
                'fun main(args : Array<String>){\n    println("Hello World!")\n}\n'),
    "lua": L("glot/lua:latest", "runbox/lua:latest", "main.lua",
             [], "lua main.lua", "lua -v",
             'print("Hello World!");\n'),
    "mercury": L("glot/mercury:latest", None, "main.m", ["mmc -o a.out main.m"], "./a.out",
                 "mmc --version | head -n 1",
                 ':- module main.\n:- interface.\n:- import_module io.\n\n'
                 ':- pred main(io::di, io::uo) is det.\n\n:- implementation.\n\n'
                 'main(!IO) :-\n    io.write_string("Hello World!\\n", !IO).\n'),
    "nim": L("glot/nim:latest", "runbox/nim:latest", "main.nim",
             [], "nim --hints:off --verbosity:0 compile --run main.nim",
             "nim --version | head -n 1",
             'echo("Hello World!")\n'),
    "nix": L("glot/nix:latest", "runbox/nix:latest", "main.nix",
             [], "nix-instantiate --eval main.nix", "nix --version",
             'let\n    hello = "Hello World!";\nin\nhello\n'),
    "ocaml": L("glot/ocaml:latest", "runbox/ocaml:latest", "main.ml",
               ["ocamlc -o a.out main.ml"], "./a.out", "ocaml --version",
               'print_endline "Hello World!"\n'),
    "pascal": L("glot/pascal:latest", "runbox/pascal:latest", "main.pas",
                ["fpc -oa.out main.pas"], "./a.out", "fpc -iV",
                "program Hello;\nbegin\n    writeln ('Hello World!');\nend.\n"),
    "perl": L("glot/perl:latest", "runbox/perl:latest", "main.pl",
              [], "perl main.pl", "perl --version | head -n 2 | tail -n 1",
              'print "Hello World!\\n";\n'),
    "php": L("glot/php:latest", "runbox/php:latest", "main.php",
             [], "php main.php", "php --version | head -n 1",
             '<?php\n\necho "Hello World!\\n";\n'),
    "python": L("glot/python:latest", "runbox/python:latest", "main.py",
                [], "python main.py", "python --version",
                'print("Hello World!")\n'),
    "raku": L("glot/raku:latest", "runbox/raku:latest", "main.raku",
              [], "raku main.raku", "raku --version | head -n 1",
              "say 'Hello World!';\n"),
    "ruby": L("glot/ruby:latest", "runbox/ruby:latest", "main.rb",
              [], "ruby main.rb", "ruby --version",
              'puts "Hello World!"\n'),
    "rust": L("glot/rust:latest", "runbox/rust:latest", "main.rs",
              ["rustc -o a.out main.rs"], "./a.out", "rustc --version",
              'fn main() {\n    println!("Hello World!");\n}\n'),
    "sac": L("glot/sac:latest", None, "main.sac", ["sac2c -t seq -o a.out main.sac"],
             "./a.out", "sac2c -V | head -n 1",
             'use StdIO: all;\nuse Array: all;\n\nint main()\n{\n'
             '    printf("Hello World!\\n");\n    return 0;\n}\n'),
    "scala": L("glot/scala:latest", "runbox/scala:latest", "main.scala",
               ["scalac main.scala"], "scala Main", "scalac --version",
               'object Main extends App {\n    println("Hello World!")\n}\n'),
    "swift": L("glot/swift:latest", None, "main.swift", [], "swift main.swift",
               "swift --version | head -n 1", 'print("Hello World!")\n'),
    "typescript": L("glot/typescript:latest", "runbox/typescript:latest", "main.ts",
                    ["tsc main.ts"], "node main.js", "tsc --version",
                    'console.log("Hello World!");\n'),
    "zig": L("glot/zig:latest", None, "main.zig", [], "zig run main.zig", "zig version",
             'const std = @import("std");\n\npub fn main() !void {\n'
             '    const stdout = std.io.getStdOut().writer();\n'
             '    try stdout.print("{s}\\n", .{"Hello World!"});\n}\n'),
}


def conf_images():
    """{image name: execution_time in ms} of the service's [image.*] sections."""
    cp = configparser.ConfigParser(inline_comment_prefixes=(";", "#"), strict=False,
                                   interpolation=None)
    cp.read(os.environ["RUNBOX_CONF"])
    out = {}
    for s in cp.sections():
        if s.startswith("image."):
            t = cp[s].get("execution_time") or cp["limits"].get("execution_time", "15s")
            out[cp[s]["name"].strip()] = rc.duration_ms(t)
    return out


def built(ref):
    return subprocess.run(["docker", "image", "inspect", ref], capture_output=True).returncode == 0


def aliases():
    """{runbox image: [aliases]} from GET /images ("aliases" may be absent)."""
    reply = rc.request("GET", "/images")
    rc.expect(reply.status == 200 and isinstance(reply.json, list), "GET /images", reply)
    out = {}
    for entry in reply.json:
        name = entry.get("image", "")
        names = {name, name if ":" in name else name + ":latest"}
        for n in names:
            out[n] = list(entry.get("aliases") or [])
    return out


def post(image, payload, timeout):
    reply = rc.run(image, payload, timeout=timeout)
    rc.expect(reply.status == 200 and isinstance(reply.json, dict), "200 and a JSON object", reply)
    return reply, reply.json


def normalized(stdout):
    """glot's image tests: trimmed, double quotes removed (nix prints its
    string quoted), lowercased."""
    return stdout.strip().replace('"', "").lower()


def check_hello(image, lang, timeout):
    payload = {"runInstructions": {"buildCommands": lang.build, "runCommand": lang.run},
               "files": [{"name": lang.main, "content": lang.hello}],
               "stdin": None}
    reply, out = post(image, payload, timeout)
    rc.expect(out.get("error") == "" and out.get("stderr") == "" and
              normalized(out.get("stdout", "")) == "hello world!",
              "no error, no stderr, stdout 'hello world!'", reply)
    return reply, out


def check_version(image, lang, timeout):
    payload = {"runInstructions": {"buildCommands": [], "runCommand": lang.version},
               "files": [],
               "stdin": None}
    reply, out = post(image, payload, timeout)
    text = out.get("stdout", "").strip()
    rc.expect(out.get("error") == "" and text != "" and "\n" not in text,
              "no error, stdout one non-empty line", reply)
    return reply, out


def main():
    only = set(sys.argv[1:])
    unknown = only - set(GLOT)
    if unknown:
        print("no such glot language: %s" % " ".join(sorted(unknown)))
        print("glot: 0 passed, 1 failed")
        sys.exit(1)
    allowed = conf_images()
    known = aliases()
    passed = failed = skipped = 0
    for key, lang in GLOT.items():
        if only and key not in only:
            continue
        if lang.runbox is None:
            print("n/a  %-13s %-26s runbox has no image for it (README: languages)" %
                  (key, lang.glot), flush=True)
            continue
        if not built(lang.runbox):
            print("skip %-13s %-26s %s is not built" % (key, lang.glot, lang.runbox), flush=True)
            skipped += 1
            continue
        if lang.runbox not in allowed:
            print("FAIL %-13s %-26s %s has no [image.*] section" % (key, lang.glot, lang.runbox),
                  flush=True)
            failed += 1
            continue
        image, note = lang.glot, ""
        if lang.glot not in known.get(lang.runbox, []):
            image, note = lang.runbox, "  (no alias %s in /images: sent %s)" % (lang.glot, lang.runbox)
        timeout = allowed[lang.runbox] / 1000 + 30
        for what, check in (("hello", check_hello), ("version", check_version)):
            start = time.monotonic()
            try:
                _, out = check(image, lang, timeout)
                passed += 1
                shown = out.get("stdout", "").strip().splitlines() or [""]
                print("ok   %-13s %-7s %-26s %6.2fs  %s%s" %
                      (key, what, image, time.monotonic() - start, shown[0][:60], note),
                      flush=True)
            except Exception as e:  # one line per request, then the detail
                failed += 1
                print("FAIL %-13s %-7s %-26s %6.2fs  %s%s" %
                      (key, what, image, time.monotonic() - start, str(e)[:2000], note),
                      flush=True)
    if skipped:
        print("(%d skipped: not built)" % skipped)
    print("glot: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or passed == 0 else 0)


if __name__ == "__main__":
    main()
