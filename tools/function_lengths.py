#!/usr/bin/env python3
"""Lists the longest functions of the project's C++ sources, longest first.

A function's length counts its lines from the first line of its signature to its closing
brace, comments and blank lines included. Lambdas and local classes count as part of the
function that holds them.

    python3 tools/function_lengths.py [--top 5] [DIR ...]
"""
import argparse
import pathlib
import re

# Heads of braces that open a scope which is not a function body.
NOT_A_FUNCTION = re.compile(
    r'^\s*(if|for|while|switch|catch|else|do|try|namespace|class|struct|enum|union|extern)\b')
# Directories that are not the project's own code.
SKIPPED = ('bazel-', '/scratch/', '/external/')


def blank_comments_and_literals(text):
    """Replaces comments and string and character literals by spaces, keeping the lines."""
    pattern = re.compile(r'//[^\n]*|/\*.*?\*/|R"(?P<delim>[^(]*)\(.*?\)(?P=delim)"'
                         r'|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.DOTALL)
    return pattern.sub(lambda match: re.sub(r'[^\n]', ' ', match.group(0)), text)


def code_lines(path):
    """The lines of a source file without comments, literals and preprocessor lines."""
    lines = blank_comments_and_literals(path.read_text()).split('\n')
    continued = False
    for number, line in enumerate(lines):
        if continued or line.lstrip().startswith('#'):
            continued = line.rstrip().endswith('\\')
            lines[number] = ''
    return lines


def brace_head(lines, line_number, column):
    """The text before an opening brace back to the previous ';', '{' or '}', and its line."""
    parts = []
    prefix = lines[line_number][:column]
    first = line_number
    while True:
        cut = max(prefix.rfind(';'), prefix.rfind('{'), prefix.rfind('}'))
        if cut >= 0:
            parts.insert(0, prefix[cut + 1:])
            break
        parts.insert(0, prefix)
        if first == 0 or line_number - first >= 15:
            break
        first -= 1
        prefix = lines[first]
    return ' '.join(part.strip() for part in parts).strip(), first


def functions(path):
    """(length, path, first line, name) of every outermost function body in a file."""
    lines = code_lines(path)
    scopes = []  # (is_function, first line, head) of every open brace
    found = []
    for line_number, line in enumerate(lines):
        for column, character in enumerate(line):
            if character == '{':
                head, first = brace_head(lines, line_number, column)
                in_function = any(is_function for is_function, _, _ in scopes)
                is_function = (not in_function and '(' in head and ')' in head
                               and not NOT_A_FUNCTION.match(head)
                               and not head.startswith('=') and not head.endswith('='))
                scopes.append((is_function, first if is_function else line_number, head))
            elif character == '}' and scopes:
                is_function, first, head = scopes.pop()
                if is_function:
                    name = re.sub(r'\s+', ' ', head.split('(')[0]).split(' ')[-1]
                    found.append((line_number - first + 1, str(path), first + 1, name))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('roots', nargs='*', default=['.'], help='directories to scan')
    parser.add_argument('--top', type=int, default=20, help='how many functions to list')
    args = parser.parse_args()
    found = []
    for root in args.roots:
        for path in sorted(pathlib.Path(root).rglob('*')):
            if path.suffix in ('.cc', '.h') and not any(s in str(path) for s in SKIPPED):
                found += functions(path)
    found.sort(key=lambda item: (-item[0], item[1], item[2]))
    for length, path, line, name in found[:args.top]:
        print(f'{length:5d}  {path}:{line}  {name}')


if __name__ == '__main__':
    main()
