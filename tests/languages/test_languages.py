"""Language suite: every allowed image that is built runs, through the
service, a hello world with a non-ASCII string, a program reading stdin, a
program of two files (main + module), a program that does not compile (or,
for interpreters, does not parse) and one that fails at run time.

Started by tests/languages/run, which sets RUNBOX_URL, RUNBOX_TOKEN and
RUNBOX_CONF (the INI the service reads: its [image.*] sections say which
images are allowed). The language of an image is its label runbox.language.
Usage: test_languages.py [--latency N] [LANGUAGE|IMAGE_SECTION...]
"""
import configparser
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import runbox_client as rc  # noqa: E402

HELLO = "Grüße, κόσμε ✓"
LINE = "Ünïcode 42"

# Per language: main file name, then the programs.
#   hello: prints HELLO;  stdin: prints "read: " + the first line of stdin
#   two: (main, module name, module) prints "sum: 42" with add() from the module
#   bad: does not compile / parse; must not print NOTREACHED
#   fail: exits non-zero at run time
#   compiles: True when "bad" is a compile error (else a syntax error)
P = {}

P["bash"] = dict(
    main="main.sh", compiles=False,
    hello='echo "%s"\n' % HELLO,
    stdin='read -r line\necho "read: $line"\n',
    two=('. ./util.sh\necho "sum: $(add 40 2)"\n', "util.sh",
         'add() { echo $(($1 + $2)); }\n'),
    bad='if then fi\necho NOTREACHED\n',
    fail='echo before\ncat /no/such/file\n')

P["c"] = dict(
    main="main.c", compiles=True,
    hello='#include <stdio.h>\n\nint main(void) {\n    puts("%s");\n    return 0;\n}\n' % HELLO,
    stdin='#include <stdio.h>\n\nint main(void) {\n    char l[256];\n'
          '    if (fgets(l, sizeof l, stdin) == NULL) return 1;\n'
          '    printf("read: %s", l);\n    return 0;\n}\n',
    two=('#include <stdio.h>\n#include "util.h"\n\nint main(void) {\n'
         '    printf("sum: %d\\n", add(40, 2));\n    return 0;\n}\n', "util.c",
         '#include "util.h"\n\nint add(int a, int b) { return a + b; }\n'),
    extra=[("util.h", 'int add(int a, int b);\n')],
    bad='#include <stdio.h>\n\nint main(void) {\n    puts("NOTREACHED");\n    return x;\n}\n',
    fail='#include <stdio.h>\n#include <stdlib.h>\n\nint main(void) {\n    puts("before");\n'
         '    fflush(stdout);\n    abort();\n}\n')

P["cpp"] = dict(
    main="main.cpp", compiles=True,
    hello='#include <iostream>\n\nint main() {\n    std::cout << "%s" << std::endl;\n}\n' % HELLO,
    stdin='#include <iostream>\n#include <string>\n\nint main() {\n    std::string l;\n'
          '    std::getline(std::cin, l);\n    std::cout << "read: " << l << std::endl;\n}\n',
    two=('#include <iostream>\n#include "util.hpp"\n\nint main() {\n'
         '    std::cout << "sum: " << add(40, 2) << std::endl;\n}\n', "util.cpp",
         '#include "util.hpp"\n\nint add(int a, int b) { return a + b; }\n'),
    extra=[("util.hpp", 'int add(int a, int b);\n')],
    bad='#include <iostream>\n\nint main() {\n    std::cout << "NOTREACHED";\n    return x;\n}\n',
    fail='#include <iostream>\n#include <stdexcept>\n\nint main() {\n'
         '    std::cout << "before" << std::endl;\n    throw std::runtime_error("boom");\n}\n')

P["python"] = dict(
    main="main.py", compiles=False,
    hello='print("%s")\n' % HELLO,
    stdin='print("read: " + input())\n',
    two=('import util\nprint("sum:", util.add(40, 2))\n', "util.py",
         'def add(a, b):\n    return a + b\n'),
    bad='print("NOTREACHED")\ndef f(:\n',
    fail='print("before")\nraise ValueError("boom")\n')

P["javascript"] = dict(
    main="main.js", compiles=False,
    hello='console.log("%s");\n' % HELLO,
    stdin='const line = require("fs").readFileSync(0, "utf8").split("\\n")[0];\n'
          'console.log("read: " + line);\n',
    two=('const u = require("./util");\nconsole.log("sum: " + u.add(40, 2));\n', "util.js",
         'exports.add = (a, b) => a + b;\n'),
    bad='console.log("NOTREACHED");\nlet x = ;\n',
    fail='console.log("before");\nthrow new Error("boom");\n')

P["typescript"] = dict(
    main="main.ts", compiles=True,
    hello='const s: string = "%s";\nconsole.log(s);\n' % HELLO,
    stdin='import * as fs from "fs";\n'
          'const line: string = fs.readFileSync(0, "utf8").split("\\n")[0];\n'
          'console.log("read: " + line);\n',
    two=('import { add } from "./util";\nconsole.log("sum: " + add(40, 2));\n', "util.ts",
         'export function add(a: number, b: number): number { return a + b; }\n'),
    bad='console.log("NOTREACHED");\nconst n: number = "text";\n',
    fail='console.log("before");\nthrow new Error("boom");\n')

P["coffeescript"] = dict(
    main="main.coffee", compiles=True,
    hello='console.log "%s"\n' % HELLO,
    stdin='line = require("fs").readFileSync(0, "utf8").split("\\n")[0]\n'
          'console.log "read: " + line\n',
    two=('u = require "./util"\nconsole.log "sum: " + u.add(40, 2)\n', "util.coffee",
         'exports.add = (a, b) -> a + b\n'),
    bad='console.log "NOTREACHED"\nx = (1 +\n',
    fail='console.log "before"\nthrow new Error "boom"\n')

P["ruby"] = dict(
    main="main.rb", compiles=False,
    hello='puts "%s"\n' % HELLO,
    stdin='puts "read: " + gets.chomp\n',
    two=('require_relative "util"\nputs "sum: #{Util.add(40, 2)}"\n', "util.rb",
         'module Util\n  def self.add(a, b)\n    a + b\n  end\nend\n'),
    bad='puts "NOTREACHED"\ndef f(\n',
    fail='puts "before"\nraise "boom"\n')

P["perl"] = dict(
    main="main.pl", compiles=False,
    hello='print "%s\\n";\n' % HELLO,
    stdin='my $l = <STDIN>;\nchomp $l;\nprint "read: $l\\n";\n',
    two=('use lib ".";\nuse Util;\nprint "sum: ", Util::add(40, 2), "\\n";\n', "Util.pm",
         'package Util;\nsub add { return $_[0] + $_[1] }\n1;\n'),
    bad='print "NOTREACHED\\n";\nmy $x = ;\n',
    fail='print "before\\n";\ndie "boom\\n";\n')

P["php"] = dict(
    main="main.php", compiles=False,
    hello='<?php\necho "%s\\n";\n' % HELLO,
    stdin='<?php\n$l = rtrim(fgets(STDIN), "\\n");\necho "read: $l\\n";\n',
    two=('<?php\nrequire __DIR__ . "/util.php";\necho "sum: " . add(40, 2) . "\\n";\n',
         "util.php", '<?php\nfunction add($a, $b) { return $a + $b; }\n'),
    bad='<?php\necho "NOTREACHED\\n";\n$x = ;\n',
    fail='<?php\necho "before\\n";\nthrow new Exception("boom");\n')

P["lua"] = dict(
    main="main.lua", compiles=False,
    hello='print("%s")\n' % HELLO,
    stdin='print("read: " .. io.read("l"))\n',
    two=('local u = require("util")\nprint("sum: " .. u.add(40, 2))\n', "util.lua",
         'local M = {}\nfunction M.add(a, b) return a + b end\nreturn M\n'),
    bad='print("NOTREACHED")\nlocal x = = 1\n',
    fail='print("before")\nerror("boom")\n')

P["go"] = dict(
    main="main.go", compiles=True,
    hello='package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("%s") }\n' % HELLO,
    stdin='package main\n\nimport (\n\t"bufio"\n\t"fmt"\n\t"os"\n)\n\n'
          'func main() {\n\ts := bufio.NewScanner(os.Stdin)\n\ts.Scan()\n'
          '\tfmt.Println("read: " + s.Text())\n}\n',
    two=('package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("sum:", add(40, 2)) }\n',
         "util.go", 'package main\n\nfunc add(a, b int) int { return a + b }\n'),
    bad='package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("NOTREACHED"); var x int = "s" }\n',
    fail='package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("before"); panic("boom") }\n')

P["rust"] = dict(
    main="main.rs", compiles=True,
    hello='fn main() {\n    println!("%s");\n}\n' % HELLO,
    stdin='fn main() {\n    let mut l = String::new();\n'
          '    std::io::stdin().read_line(&mut l).unwrap();\n'
          '    println!("read: {}", l.trim_end());\n}\n',
    two=('mod util;\n\nfn main() {\n    println!("sum: {}", util::add(40, 2));\n}\n',
         "util.rs", 'pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n'),
    bad='fn main() {\n    println!("NOTREACHED");\n    let _x: i32 = "s";\n}\n',
    fail='fn main() {\n    println!("before");\n    panic!("boom");\n}\n')

P["java"] = dict(
    main="Main.java", compiles=True,
    hello='public class Main {\n    public static void main(String[] args) {\n'
          '        System.out.println("%s");\n    }\n}\n' % HELLO,
    stdin='import java.io.*;\n\npublic class Main {\n'
          '    public static void main(String[] args) throws IOException {\n'
          '        BufferedReader r = new BufferedReader(new InputStreamReader(System.in));\n'
          '        System.out.println("read: " + r.readLine());\n    }\n}\n',
    two=('public class Main {\n    public static void main(String[] args) {\n'
         '        System.out.println("sum: " + Util.add(40, 2));\n    }\n}\n', "Util.java",
         'public class Util {\n    public static int add(int a, int b) { return a + b; }\n}\n'),
    bad='public class Main {\n    public static void main(String[] args) {\n'
        '        System.out.println("NOTREACHED");\n        int x = "s";\n    }\n}\n',
    fail='public class Main {\n    public static void main(String[] args) {\n'
         '        System.out.println("before");\n        throw new RuntimeException("boom");\n'
         '    }\n}\n')

P["kotlin"] = dict(
    main="main.kt", compiles=True,
    hello='fun main() {\n    println("%s")\n}\n' % HELLO,
    stdin='fun main() {\n    println("read: " + readLine())\n}\n',
    two=('fun main() {\n    println("sum: " + add(40, 2))\n}\n', "util.kt",
         'fun add(a: Int, b: Int): Int = a + b\n'),
    bad='fun main() {\n    println("NOTREACHED")\n    val x: Int = "s"\n}\n',
    fail='fun main() {\n    println("before")\n    throw RuntimeException("boom")\n}\n')

P["scala"] = dict(
    main="main.scala", compiles=True,
    hello='object Main {\n  def main(args: Array[String]): Unit = println("%s")\n}\n' % HELLO,
    stdin='object Main {\n  def main(args: Array[String]): Unit =\n'
          '    println("read: " + scala.io.StdIn.readLine())\n}\n',
    two=('object Main {\n  def main(args: Array[String]): Unit = println("sum: " + Util.add(40, 2))\n}\n',
         "util.scala", 'object Util {\n  def add(a: Int, b: Int): Int = a + b\n}\n'),
    bad='object Main {\n  def main(args: Array[String]): Unit = {\n    println("NOTREACHED")\n'
        '    val x: Int = "s"\n  }\n}\n',
    fail='object Main {\n  def main(args: Array[String]): Unit = {\n    println("before")\n'
         '    throw new RuntimeException("boom")\n  }\n}\n')

P["groovy"] = dict(
    main="main.groovy", compiles=True,
    hello='println "%s"\n' % HELLO,
    stdin='def l = System.in.newReader().readLine()\nprintln "read: " + l\n',
    two=('println "sum: " + Util.add(40, 2)\n', "Util.groovy",
         'class Util {\n    static int add(int a, int b) { a + b }\n}\n'),
    bad='println "NOTREACHED"\ndef x = \n',
    fail='println "before"\nthrow new RuntimeException("boom")\n')

P["clojure"] = dict(
    main="main.clj", compiles=True,
    hello='(println "%s")\n' % HELLO,
    stdin='(println (str "read: " (read-line)))\n',
    two=('(load-file "util.clj")\n(println (str "sum: " (util/add 40 2)))\n', "util.clj",
         '(ns util)\n(defn add [a b] (+ a b))\n'),
    bad='(defn f [x] (no-such-function x))\n(println "NOTREACHED")\n',
    fail='(println "before")\n(throw (Exception. "boom"))\n')

P["haskell"] = dict(
    main="main.hs", compiles=True,
    hello='main :: IO ()\nmain = putStrLn "%s"\n' % HELLO,
    stdin='main :: IO ()\nmain = getLine >>= \\l -> putStrLn ("read: " ++ l)\n',
    two=('import Util\n\nmain :: IO ()\nmain = putStrLn ("sum: " ++ show (add 40 2))\n', "Util.hs",
         'module Util where\n\nadd :: Int -> Int -> Int\nadd a b = a + b\n'),
    bad='main :: IO ()\nmain = putStrLn "NOTREACHED" >> putStrLn (1 + "s")\n',
    fail='main :: IO ()\nmain = putStrLn "before" >> error "boom"\n')

P["ocaml"] = dict(
    main="main.ml", compiles=True,
    hello='let () = print_endline "%s"\n' % HELLO,
    stdin='let () = print_endline ("read: " ^ read_line ())\n',
    two=('let () = Printf.printf "sum: %d\\n" (Util.add 40 2)\n', "util.ml",
         'let add a b = a + b\n'),
    bad='let () = print_endline "NOTREACHED"\nlet () = print_endline (1 + "s")\n',
    fail='let () = print_endline "before"; failwith "boom"\n')

P["erlang"] = dict(
    main="main.erl", compiles=True,
    hello='%% escript skips this line\nmain(_) -> io:format("~ts~n", ["%s"]).\n' % HELLO,
    stdin='%% escript skips this line\n'
          'main(_) -> L = io:get_line(""), io:format("read: ~ts", [L]).\n',
    two=('%% escript skips this line\nmain(_) -> io:format("sum: ~p~n", [util:add(40, 2)]).\n',
         "util.erl", '-module(util).\n-export([add/2]).\n\nadd(A, B) -> A + B.\n'),
    bad='%% escript skips this line\nmain(_) -> io:format("NOTREACHED~n"), X = .\n',
    fail='%% escript skips this line\nmain(_) -> io:format("before~n"), erlang:error(boom).\n')

P["elixir"] = dict(
    main="main.exs", compiles=True,
    hello='IO.puts "%s"\n' % HELLO,
    stdin='IO.puts "read: " <> String.trim_trailing(IO.gets(""), "\\n")\n',
    two=('Code.require_file("util.exs", __DIR__)\nIO.puts "sum: #{Util.add(40, 2)}"\n', "util.exs",
         'defmodule Util do\n  def add(a, b), do: a + b\nend\n'),
    bad='IO.puts "NOTREACHED"\nx = (1 +\n',
    fail='IO.puts "before"\nraise "boom"\n')

P["csharp"] = dict(
    main="main.cs", compiles=True,
    hello='using System;\n\nclass Program {\n    static void Main() {\n'
          '        Console.WriteLine("%s");\n    }\n}\n' % HELLO,
    stdin='using System;\n\nclass Program {\n    static void Main() {\n'
          '        Console.WriteLine("read: " + Console.ReadLine());\n    }\n}\n',
    two=('using System;\n\nclass Program {\n    static void Main() {\n'
         '        Console.WriteLine("sum: " + Util.Add(40, 2));\n    }\n}\n', "util.cs",
         'public static class Util {\n    public static int Add(int a, int b) { return a + b; }\n}\n'),
    bad='using System;\n\nclass Program {\n    static void Main() {\n'
        '        Console.WriteLine("NOTREACHED");\n        int x = "s";\n    }\n}\n',
    fail='using System;\n\nclass Program {\n    static void Main() {\n'
         '        Console.WriteLine("before");\n        throw new Exception("boom");\n    }\n}\n')

P["d"] = dict(
    main="main.d", compiles=True,
    hello='import std.stdio;\n\nvoid main() {\n    writeln("%s");\n}\n' % HELLO,
    stdin='import std.stdio, std.string;\n\nvoid main() {\n    writeln("read: ", readln().chomp);\n}\n',
    two=('import std.stdio;\nimport util;\n\nvoid main() {\n    writeln("sum: ", add(40, 2));\n}\n',
         "util.d", 'module util;\n\nint add(int a, int b) { return a + b; }\n'),
    bad='import std.stdio;\n\nvoid main() {\n    writeln("NOTREACHED");\n    int x = "s";\n}\n',
    fail='import std.stdio;\n\nvoid main() {\n    writeln("before");\n'
         '    throw new Exception("boom");\n}\n')

P["nim"] = dict(
    main="main.nim", compiles=True,
    hello='echo "%s"\n' % HELLO,
    stdin='echo "read: ", readLine(stdin)\n',
    two=('import util\necho "sum: ", add(40, 2)\n', "util.nim",
         'proc add*(a, b: int): int = a + b\n'),
    bad='echo "NOTREACHED"\nlet x: int = "s"\n',
    fail='echo "before"\nraise newException(ValueError, "boom")\n')

_COB = "       IDENTIFICATION DIVISION.\n       PROGRAM-ID. %s.\n"
P["cobol"] = dict(
    main="main.cob", compiles=True,
    hello=_COB % "MAIN" + '       PROCEDURE DIVISION.\n           DISPLAY "%s".\n'
                          '           STOP RUN.\n' % HELLO,
    stdin=_COB % "MAIN" + '       DATA DIVISION.\n       WORKING-STORAGE SECTION.\n'
                          '       01 WS-LINE PIC X(80).\n       PROCEDURE DIVISION.\n'
                          '           ACCEPT WS-LINE.\n'
                          '           DISPLAY "read: " FUNCTION TRIM(WS-LINE TRAILING).\n'
                          '           STOP RUN.\n',
    two=(_COB % "MAIN" + '       DATA DIVISION.\n       WORKING-STORAGE SECTION.\n'
                         '       01 A PIC 9(4) VALUE 40.\n       01 B PIC 9(4) VALUE 2.\n'
                         '       01 R PIC 9(4).\n       01 R-OUT PIC Z(3)9.\n'
                         '       PROCEDURE DIVISION.\n           CALL "UTIL" USING A B R.\n'
                         '           MOVE R TO R-OUT.\n'
                         '           DISPLAY "sum: " FUNCTION TRIM(R-OUT).\n'
                         '           STOP RUN.\n',
         "util.cob", _COB % "UTIL" + '       DATA DIVISION.\n       LINKAGE SECTION.\n'
                                     '       01 A PIC 9(4).\n       01 B PIC 9(4).\n'
                                     '       01 R PIC 9(4).\n'
                                     '       PROCEDURE DIVISION USING A B R.\n'
                                     '           ADD A TO B GIVING R.\n           GOBACK.\n'),
    bad=_COB % "MAIN" + '       PROCEDURE DIVISION.\n           DISPLAY "NOTREACHED".\n'
                        '           MOVE 1 TO.\n           STOP RUN.\n',
    fail=_COB % "MAIN" + '       PROCEDURE DIVISION.\n           DISPLAY "before".\n'
                         '           CALL "NOSUCHPROGRAM".\n           STOP RUN.\n')

_ASM_EXIT = '    mov eax, 60\n    xor edi, edi\n    syscall\n'
P["assembly"] = dict(
    main="main.asm", compiles=True,
    hello='section .data\nmsg: db "%s", 10\nlen: equ $ - msg\n\nsection .text\nglobal _start\n'
          '_start:\n    mov eax, 1\n    mov edi, 1\n    lea rsi, [rel msg]\n    mov edx, len\n'
          '    syscall\n' % HELLO + _ASM_EXIT,
    stdin='section .bss\nbuf: resb 256\n\nsection .data\npre: db "read: "\n\n'
          'section .text\nglobal _start\n_start:\n    xor eax, eax\n    xor edi, edi\n'
          '    lea rsi, [rel buf]\n    mov edx, 256\n    syscall\n    mov r12, rax\n'
          '    mov eax, 1\n    mov edi, 1\n    lea rsi, [rel pre]\n    mov edx, 6\n    syscall\n'
          '    mov eax, 1\n    mov edi, 1\n    lea rsi, [rel buf]\n    mov rdx, r12\n    syscall\n'
          + _ASM_EXIT,
    two=('%include "util.asm"\n\nsection .data\nout: db "sum: ??", 10\n\nsection .text\n'
         'global _start\n_start:\n    mov edi, 40\n    mov esi, 2\n    call add\n'
         '    mov ecx, 10\n    xor edx, edx\n    div ecx\n    add al, \'0\'\n    add dl, \'0\'\n'
         '    mov [rel out + 5], al\n    mov [rel out + 6], dl\n'
         '    mov eax, 1\n    mov edi, 1\n    lea rsi, [rel out]\n    mov edx, 8\n    syscall\n'
         + _ASM_EXIT, "util.asm",
         'section .text\n; add(rdi, rsi) -> rax\nadd:\n    mov rax, rdi\n    add rax, rsi\n    ret\n'),
    bad='section .text\nglobal _start\n_start:\n    movx rax, 1\n' + _ASM_EXIT,
    fail='section .data\nmsg: db "before", 10\n\nsection .text\nglobal _start\n_start:\n'
         '    mov eax, 1\n    mov edi, 1\n    lea rsi, [rel msg]\n    mov edx, 7\n    syscall\n'
         '    mov rax, [0]\n' + _ASM_EXIT)

P["raku"] = dict(
    main="main.raku", compiles=False,
    hello='say "%s";\n' % HELLO,
    stdin='say "read: " ~ get;\n',
    two=('use lib ".";\nuse Util;\nsay "sum: " ~ add(40, 2);\n', "Util.rakumod",
         'unit module Util;\n\nsub add($a, $b) is export { $a + $b }\n'),
    bad='say "NOTREACHED";\nmy $x = ;\n',
    fail='say "before";\ndie "boom";\n')

P["clisp"] = dict(
    main="main.lisp", compiles=False,
    hello='(format t "%s~%%")\n' % HELLO,
    stdin='(format t "read: ~a~%" (read-line))\n',
    two=('(load "util.lisp")\n(format t "sum: ~a~%" (add 40 2))\n', "util.lisp",
         '(defun add (a b) (+ a b))\n'),
    bad='(defun f (x)\n(format t "NOTREACHED~%")\n',
    fail='(format t "before~%")\n(error "boom")\n')

P["guile"] = dict(
    main="main.scm", compiles=False,
    hello='(display "%s")\n(newline)\n' % HELLO,
    stdin='(use-modules (ice-9 rdelim))\n(display (string-append "read: " (read-line)))\n(newline)\n',
    two=('(load "util.scm")\n(display "sum: ")\n(display (add 40 2))\n(newline)\n', "util.scm",
         '(define (add a b) (+ a b))\n'),
    bad='(define (f x)\n(display "NOTREACHED")\n',
    fail='(display "before")\n(newline)\n(error "boom")\n')

P["pascal"] = dict(
    main="main.pas", compiles=True,
    hello="program Main;\nbegin\n  writeln('%s');\nend.\n" % HELLO,
    stdin="program Main;\nvar l: string;\nbegin\n  readln(l);\n  writeln('read: ', l);\nend.\n",
    two=("program Main;\nuses Util;\nbegin\n  writeln('sum: ', Add(40, 2));\nend.\n", "util.pas",
         "unit Util;\ninterface\nfunction Add(a, b: integer): integer;\nimplementation\n"
         "function Add(a, b: integer): integer;\nbegin\n  Add := a + b;\nend;\nend.\n"),
    bad="program Main;\nvar x: integer;\nbegin\n  writeln('NOTREACHED');\n  x := 's';\nend.\n",
    fail="program Main;\nbegin\n  writeln('before');\n  halt(3);\nend.\n")
# nix-instantiate --eval prints the value: strings come quoted, as in glot.
P["nix"] = dict(
    main="main.nix", compiles=False, hello_out='"%s"\n' % HELLO,
    hello='"%s"\n' % HELLO,
    stdin='"read: ${builtins.readFile /dev/stdin}"\n',
    two=('let u = import ./util.nix; in "sum: ${toString (u.add 40 2)}"\n', "util.nix",
         '{ add = a: b: a + b; }\n'),
    bad='let x = ; in "NOTREACHED"\n',
    fail='throw "boom"\n')

_ATS = '#include "share/atspre_staload.hats"\n'
P["ats"] = dict(
    main="main.dats", compiles=True,
    hello=_ATS + 'implement main0 () = print ("%s\\n")\n' % HELLO,
    stdin=_ATS + '#include "share/atspre_staload_libats_ML.hats"\n'
          'implement main0 () = let\n  val l = fileref_get_line_string (stdin_ref)\n'
          'in\n  print! ("read: ", l, "\\n")\nend\n',
    two=(_ATS + '#include "util.dats"\nimplement main0 () = println! ("sum: ", add (40, 2))\n',
         "util.dats", 'fn add (a: int, b: int): int = a + b\n'),
    bad=_ATS + 'implement main0 () = let val x: int = "s" in println! ("NOTREACHED") end\n',
    fail=_ATS + 'implement main0 () = let val () = println! ("before") in exit (3) end\n')

P["crystal"] = dict(
    main="main.cr", compiles=True,
    hello='puts "%s"\n' % HELLO,
    stdin='puts "read: #{gets}"\n',
    two=('require "./util"\nputs "sum: #{add(40, 2)}"\n', "util.cr",
         'def add(a, b)\n  a + b\nend\n'),
    bad='puts "NOTREACHED"\nx : Int32 = "s"\n',
    fail='puts "before"\nraise "boom"\n')


def allowed_images():
    """[(section name, image reference)] from the service's INI."""
    cp = configparser.ConfigParser(inline_comment_prefixes=(";", "#"), strict=False,
                                   interpolation=None)
    cp.read(os.environ["RUNBOX_CONF"])
    return [(s[len("image."):], cp[s]["name"].strip())
            for s in cp.sections() if s.startswith("image.")]


def image_language(ref):
    """The runbox.language label of a local image, or None if it is absent."""
    r = subprocess.run(["docker", "image", "inspect", "-f",
                        '{{index .Config.Labels "runbox.language"}}', ref],
                       capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def call(image, lang, files, stdin=""):
    reply = rc.run(image, {"language": lang, "files": rc.files(*files), "stdin": stdin},
                   timeout=180)
    rc.expect(reply.status == 200 and isinstance(reply.json, dict), "200 and a JSON object", reply)
    return reply, reply.json


def check_language(image, lang, spec, latency_runs):
    main = spec["main"]
    times = []
    for _ in range(max(1, latency_runs)):
        reply, out = call(image, lang, [(main, spec["hello"])])
        rc.expect(out.get("stdout") == spec.get("hello_out", HELLO + "\n") and
                  out.get("error") == "",
                  "hello: stdout is the greeting, no error", reply)
        times.append(reply.seconds)
    reply, out = call(image, lang, [(main, spec["stdin"])], stdin=LINE + "\nsecond line\n")
    rc.expect("read: " + LINE in out.get("stdout", "") and out.get("error") == "",
              "stdin: echoes the first line", reply)
    code, modname, module = spec["two"]
    reply, out = call(image, lang, [(main, code), (modname, module)] + spec.get("extra", []))
    rc.expect("sum: 42" in out.get("stdout", "") and out.get("error") == "",
              "two files: the main file uses the module", reply)
    reply, out = call(image, lang, [(main, spec["bad"])])
    rc.expect(out.get("error", "") != "" and out.get("stderr", "").strip() != "" and
              "NOTREACHED" not in out.get("stdout", ""),
              ("compile" if spec["compiles"] else "syntax") +
              " error: an error, the message in stderr, nothing run", reply)
    reply, out = call(image, lang, [(main, spec["fail"])])
    rc.expect(out.get("error", "") != "", "runtime error: a non-zero exit", reply)
    return statistics.median(times)


def main():
    args = sys.argv[1:]
    latency_runs = 1
    if args[:1] == ["--latency"]:
        latency_runs = int(args[1])
        args = args[2:]
    only = set(args)
    passed = failed = skipped = 0
    for key, ref in allowed_images():
        lang = image_language(ref)
        if only and key not in only and lang not in only:
            continue
        if lang is None:
            print("skip %-13s %-28s image not built" % (key, ref), flush=True)
            skipped += 1
            continue
        spec = P.get(lang)
        if spec is None:
            print("skip %-13s %-28s no programs for language %r" % (key, ref, lang), flush=True)
            skipped += 1
            continue
        start = time.monotonic()
        try:
            median = check_language(ref, lang, spec, latency_runs)
            passed += 1
            print("ok   %-13s %-28s %-12s hello %6.3fs (median of %d)  all %6.2fs" %
                  (key, ref, lang, median, max(1, latency_runs), time.monotonic() - start),
                  flush=True)
        except Exception as e:  # one line per language, then the detail
            failed += 1
            print("FAIL %-13s %-28s %-12s %s" % (key, ref, lang, str(e)[:2000]), flush=True)
    if skipped:
        print("(%d skipped)" % skipped)
    print("languages: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or passed == 0 else 0)


if __name__ == "__main__":
    main()
