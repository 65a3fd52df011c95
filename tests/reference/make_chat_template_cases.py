#!/usr/bin/env python3
"""Writes the `chat_template` reference cases (shared/REFERENCE_CASES.md).

Renders with Python jinja2 configured exactly as transformers' `_compile_jinja_template`
(src/transformers/utils/chat_template_utils.py) does:
  ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                extensions=[AssistantTracker, jinja2.ext.loopcontrols])
  filters["tojson"] = json.dumps(x, ensure_ascii=False, indent=indent, separators=separators,
                                 sort_keys=sort_keys)
  globals raise_exception(message) -> TemplateError(message), strftime_now(format)
and renders like `render_jinja_template`:
  template.render(messages=..., tools=..., documents=None, add_generation_prompt=..., **kwargs)

Before rendering, assistant tool calls whose `function.arguments` (or `arguments`) is a JSON
string are parsed into objects, exactly as the C++ front end does (gateway/chat_template/
chat_template.cc, PrepareChatTemplateContext).

Outputs (run from the repository root with the project venv):
  tests/reference/chat_template_qwen35/{chat_template.jinja,cases.json}        (large models)
  tests/reference/chat_template_qwen35_small/{chat_template.jinja,cases.json}  (0.8B / 2B)
  tests/reference/chat_template_units/cases.json  (small templates for the interpreter)

Usage: .venv/bin/python tests/reference/make_chat_template_cases.py [--shared /work/shared]
"""

import argparse
import copy
import json
import os
import shutil
import sys
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment



class AssistantTracker(Extension):
    """transformers' {% generation %} tag; rendering only (no index tracking needed here)."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(
            lineno)

    def _generation_support(self, caller):
        return caller()


# ----------------------------------------------------------------------------- unit cases
# Small templates exercising one interpreter feature each; `expect_error` marks templates that
# must fail (the C++ test checks that they fail, and for raise_exception that the message matches).

def U(name, template, context=None, expect_error=False):
    return {"name": name, "template": template, "context": context or {},
            "expect_error": expect_error}


UNIT_CASES = [
    # --- whitespace control, trim_blocks, lstrip_blocks, comments, raw
    U("ws_trim_blocks", "{% if true %}\nyes\n{% endif %}\nafter"),
    U("ws_lstrip_blocks", "line\n    {% if true %}\n    indented\n    {% endif %}\nend"),
    U("ws_minus_both", "a   {%- if true -%}   b   {%- endif -%}   c"),
    U("ws_variable_minus", "x  {{- 'y' -}}  z\n\n"),
    U("ws_variable_no_lstrip", "  {{ 'v' }}\n  {% if true %}t{% endif %}"),
    U("ws_plus_disables_lstrip", "  {%+ if true %}kept{% endif %}"),
    U("ws_plus_end_disables_trim", "{% if true +%}\nnewline kept{% endif %}"),
    U("ws_comment", "a\n  {# comment #}\nb {#- c -#}   c"),
    U("ws_comment_multiline", "{# line1\nline2 #}\nx"),
    U("ws_trailing_newline_dropped", "text\n"),
    U("ws_crlf_normalized", "a\r\nb\rc\r\n"),
    U("ws_raw_block", "{% raw %}{{ not rendered }}{% endraw %}!"),
    U("ws_raw_minus", "x  {%- raw -%}  {{ y }}  {%- endraw -%}  z"),
    U("ws_unicode_space_minus", "a\u3000\u00a0 {{- 'b' }}"),
    U("ws_tag_after_text_on_line", "text {% if true %}\nX{% endif %}"),
    U("ws_nested_blocks", "{% for i in [1, 2] %}\n  {% if i == 2 %}\n    two\n  {% else %}\n    other\n  {% endif %}\n{% endfor %}"),
    # --- literals and printing with Python semantics
    U("print_none_bool", "{{ none }} {{ None }} {{ true }} {{ False }}"),
    U("print_numbers", "{{ 1 }} {{ 1.0 }} {{ 1.5e3 }} {{ 1e-5 }} {{ 0.1 + 0.2 }} {{ 1_000 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }}"),
    U("print_float_repr", "{{ 1e16 }} {{ 1e15 }} {{ 123456789.123 }} {{ -0.0 }} {{ 2.5e-7 }} {{ 1/3 }}"),
    U("print_list_dict_repr", "{{ [1, 'a', none, true, 2.0] }} {{ {'k': 'v', 'n': [1]} }} {{ (1,) }} {{ () }} {{ (1, 'x') }}"),
    U("print_string_repr_quotes", "{{ [\"it's\", 'say \"hi\"', 'both \\' \"', 'tab\\tnl\\n'] }}"),
    U("print_context_values", "{{ d }} {{ l }} {{ f }} {{ i }} {{ s }}",
      {"d": {"b": 1, "a": [True, None]}, "l": [1.5, "é"], "f": 3.0, "i": -4, "s": "str"}),
    U("string_escapes", "{{ 'a\\nb\\tc\\\\d\\'e\\\"f\\x41\\u00e9\\U0001F600\\101\\q' }}"),
    U("string_adjacent_concat", "{{ 'ab' 'cd' \"ef\" }}"),
    U("tuple_output", "{{ 1, 'two' }}"),
    # --- operators
    U("arith_int_float", "{{ 7 + 3 }} {{ 7 - 10 }} {{ 7 * 3 }} {{ 7 / 2 }} {{ 8 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 2 ** 3 ** 2 }}"),
    U("arith_float_mod", "{{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 5 % -3 }} {{ 1.5 * 2 }}"),
    U("arith_bool_int", "{{ true + 1 }} {{ false * 3 }} {{ 3 - true }}"),
    U("unary", "{{ -3 }} {{ +4 }} {{ -(2 + 3) }} {{ - 1.5 }} {{ -x }}", {"x": 2}),
    U("unary_binds_filter", "{{ -3|abs }} {{ - 2.5|round }}"),
    U("string_plus_concat", "{{ 'a' + 'b' }} {{ 'ab' * 3 }} {{ 2 * 'xy' }} {{ [1] + [2, 3] }} {{ [0] * 3 }}"),
    U("tilde_concat", "{{ 'a' ~ 1 ~ none ~ true ~ 1.0 ~ undefined_name ~ [1] }}"),
    U("compare_ops", "{{ 1 == 1.0 }} {{ 1 != 2 }} {{ 'a' < 'b' }} {{ 2 <= 2 }} {{ 3 > 2 > 1 }} {{ 1 < 3 < 2 }} {{ [1, 2] < [1, 3] }} {{ true == 1 }}"),
    U("compare_undefined_eq", "{{ nothing == nothing }} {{ nothing == none }} {{ nothing != 1 }}"),
    U("in_not_in", "{{ 'a' in 'cat' }} {{ 'z' not in 'cat' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'v' in {'k': 'v'} }} {{ 1 in [1.0] }} {{ 'x' in nothing }}"),
    U("logic_returns_operands", "{{ 0 or 'b' }} {{ 'a' and 'b' }} {{ '' and 'b' }} {{ none or [] }} {{ not 0 }} {{ not 'x' }} {{ not not 1 }}"),
    U("logic_precedence", "{{ true or false and false }} {{ not true == false }} {{ 2 * 3 ~ 4 }} {{ (1 + 2) * 3 }} {{ 1 ~ (2 + 3) }}"),
    U("error_concat_binds_tighter_than_plus", "{{ 1 + 2 ~ 3 }}", expect_error=True),
    U("cond_expr", "{{ 'y' if 1 else 'n' }} {{ 'y' if 0 else 'n' }} [{{ 'y' if 0 }}] {{ 'a' if false else 'b' if true else 'c' }}"),
    U("cond_expr_with_filters", "{% set v = x | tojson | safe if x is mapping else x | string %}{{ v }}", {"x": {"a": [1]}}),
    # --- variables, set, scoping
    U("set_and_tuple_unpack", "{% set a = 1 %}{% set b, c = 2, 'three' %}{{ a }}{{ b }}{{ c }}"),
    U("set_block", "{% set body %}Hello {{ name }}!{% endset %}[{{ body }}]", {"name": "Ann"}),
    U("set_block_filter", "{% set body | upper | trim %}  shout {% endset %}[{{ body }}]"),
    U("scope_loop_does_not_leak", "{% set x = 1 %}{% for i in [1, 2] %}{% set x = i * 10 %}{{ x }},{% endfor %}{{ x }}"),
    U("scope_loop_iteration_fresh", "{% for i in [1, 2] %}[{{ x }}]{% set x = i %}{% endfor %}", {"x": 9}),
    U("scope_if_leaks", "{% if true %}{% set q = 'set in if' %}{% endif %}{{ q }}"),
    U("scope_namespace_in_loop", "{% set ns = namespace(total=0, seen=[]) %}{% for i in [1, 2, 3] %}{% set ns.total = ns.total + i %}{% endfor %}{{ ns.total }} {{ ns.seen }} {{ ns }}"),
    U("namespace_from_dict", "{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}{{ ns.c is defined }}"),
    U("shadow_context_var", "{{ name }}{% set name = 'inner' %}{{ name }}", {"name": "outer"}),
    U("with_block", "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]"),
    # --- loops
    U("loop_variables", "{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}"),
    U("loop_prev_next", "{% for x in [1, 2, 3] %}({{ loop.previtem }},{{ loop.nextitem }}){{ loop.previtem is defined }}{% endfor %}"),
    U("loop_else", "{% for x in [] %}x{% else %}empty{% endfor %}{% for x in [1] %}{{ x }}{% else %}no{% endfor %}"),
    U("loop_filter", "{% for x in range(10) if x is odd %}{{ x }}{{ loop.index }},{% endfor %}"),
    U("loop_break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}"),
    U("loop_nested_loop_var", "{% for a in [1, 2] %}{% for b in [1, 2] %}{{ loop.index }}{% endfor %}{{ loop.index }};{% endfor %}"),
    U("loop_over_dict_and_items", "{% for k in d %}{{ k }}{% endfor %} {% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} {% for k, v in d|items %}{{ k }}{{ v }}{% endfor %}", {"d": {"z": 1, "a": 2}}),
    U("loop_over_string", "{% for c in 'héllo' %}[{{ c }}]{% endfor %}"),
    U("loop_over_undefined", "{% for x in missing %}x{% else %}none{% endfor %}"),
    U("loop_reversed_slice", "{% for m in msgs[::-1] %}{{ m }}{% endfor %}", {"msgs": [1, 2, 3]}),
    U("loop_cycle_changed", "{% for x in [1, 1, 2] %}{{ loop.cycle('a', 'b') }}{{ loop.changed(x) }} {% endfor %}"),
    U("loop_unpack_pairs", "{% for a, b in [[1, 2], ['x', 'y']] %}{{ a }}{{ b }}{% endfor %}"),
    U("loop_depth", "{% for x in [1] %}{{ loop.depth }}{{ loop.depth0 }}{% endfor %}"),
    # --- macros and call blocks
    U("macro_defaults", "{% macro greet(name, greeting='Hello', punct='!') %}{{ greeting }}, {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', 'Hi') }} {{ greet('C', punct='?') }}"),
    U("macro_missing_arg_undefined", "{% macro m(a, b) %}[{{ a }}|{{ b }}|{{ b is defined }}]{% endmacro %}{{ m(1) }}"),
    U("macro_sees_outer_at_call_time", "{% macro m() %}{{ y }}{% endmacro %}{% set y = 3 %}{{ m() }}"),
    U("macro_lexical_scope", "{% macro m() %}[{{ z }}]{% endmacro %}{% for z in [1] %}{{ m() }}{% endfor %}"),
    U("macro_piped_to_filter", "{% macro m(x) %}  {{ x }}  {% endmacro %}[{{ m('v')|trim }}] {{ m(1)|length }}"),
    U("macro_namespace_counter", "{% set c = namespace(n=0) %}{% macro bump() %}{% set c.n = c.n + 1 %}{{ c.n }}{% endmacro %}{{ bump() }}{{ bump() }}{{ c.n }}"),
    U("macro_recursive", "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif %}{% endmacro %}{{ fact(5) }}"),
    U("macro_varargs_kwargs", "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k='v') }}"),
    U("macro_default_refers_param", "{% macro m(a, b=a * 2) %}{{ a }},{{ b }}{% endmacro %}{{ m(3) }}"),
    U("call_block", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}inner{% endcall %}"),
    U("call_block_args", "{% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) each([1, 2]) %}[{{ x }}]{% endcall %}"),
    U("filter_block", "{% filter upper %}shout {{ 'this' }}{% endfilter %}"),
    U("generation_tag", "A{% generation %}B{{ 1 }}{% endgeneration %}C"),
    # --- tests
    U("tests_types", "{{ 's' is string }}{{ 1 is string }}{{ {} is mapping }}{{ [] is mapping }}{{ [] is iterable }}{{ 's' is iterable }}{{ 1 is iterable }}{{ missing is iterable }}{{ none is iterable }}"),
    U("tests_sequence", "{{ [] is sequence }}{{ 's' is sequence }}{{ {} is sequence }}{{ 1 is sequence }}{{ missing is sequence }}"),
    U("tests_numbers", "{{ 1 is number }}{{ 1.5 is number }}{{ true is number }}{{ '1' is number }}{{ 1 is integer }}{{ true is integer }}{{ 1.0 is float }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(4) }}"),
    U("tests_bool_none", "{{ true is true }}{{ 1 is true }}{{ false is false }}{{ 0 is false }}{{ none is none }}{{ 0 is none }}{{ true is boolean }}{{ 1 is boolean }}"),
    U("tests_defined", "{{ x is defined }}{{ y is defined }}{{ y is undefined }}{{ x.k is defined }}{{ x.z is defined }}{{ x['k'] is defined }}{{ x is not defined }}", {"x": {"k": None}}),
    U("tests_compare", "{{ 1 is eq 1 }}{{ 1 is ne 2 }}{{ 2 is gt 1 }}{{ 2 is ge 2 }}{{ 1 is lt 2 }}{{ 1 is le 0 }}{{ 'a' is in 'cat' }}{{ 1 is equalto 1 }}{{ 1 is sameas 1 }}{{ none is sameas none }}"),
    U("tests_strings", "{{ 'abc' is lower }}{{ 'ABC' is upper }}{{ 'Abc' is lower }}{{ x is callable }}{{ 'x' is callable }}{{ 'upper' is filter }}{{ 'odd' is test }}{{ ('a'|safe) is escaped }}", {"x": None}),
    U("test_not_precedence", "{{ not 1 is none }} {{ 1 is not none and 2 }} {{ x is not string }}", {"x": 5}),
    # --- filters
    U("filter_trim", "[{{ '  a b \\n'|trim }}][{{ 'xxaxx'|trim('x') }}][{{ none|trim }}][{{ missing|trim }}][{{ '\u3000\u00a0t\u2003'|trim }}]"),
    U("filter_case", "{{ 'Hello World'|lower }} {{ 'hello'|upper }} {{ 'hello wORLD-foo(bar'|title }} {{ 'hELLO'|capitalize }} {{ 'Éàß'|upper }} {{ 'ÀÉÎ'|lower }}"),
    U("filter_length_count", "{{ 'héllo'|length }} {{ [1, 2]|length }} {{ {'a': 1}|count }} {{ missing|length }}"),
    U("filter_first_last", "{{ [1, 2, 3]|first }} {{ [1, 2, 3]|last }} {{ 'abc'|first }} {{ 'abc'|last }} [{{ []|first }}] {{ {'k': 1, 'j': 2}|first }}"),
    U("filter_join", "{{ [1, 'a', none]|join(', ') }} {{ ['x', 'y']|join }} {{ users|join(', ', attribute='name') }}", {"users": [{"name": "a"}, {"name": "b"}]}),
    U("filter_default", "{{ missing|default('dflt') }} {{ none|default('d') }} {{ ''|default('d', true) }} {{ 0|d('zero', boolean=true) }} {{ 'v'|default('d') }} [{{ missing|default }}]"),
    U("filter_list_string", "{{ 'abc'|list }} {{ {'a': 1}|list }} {{ 12|string }} {{ [1, 'a']|string }} {{ none|string }} {{ (1, 2)|list }}"),
    U("filter_tojson", "{{ x|tojson }} {{ 'é<>&\\''|tojson }} {{ [1.0, 2, none, true]|tojson }} {{ {}|tojson }} {{ 'a\\nb\\u0001\\t'|tojson }}", {"x": {"b": 1, "a": {"c": [1, 2]}}}),
    U("filter_tojson_options", "{{ x|tojson(indent=2) }}|{{ x|tojson(sort_keys=true) }}|{{ x|tojson(separators=[',', ':']) }}|{{ 'é'|tojson(ensure_ascii=true) }}|{{ []|tojson(indent=2) }}|{{ x|tojson(indent='\\t') }}", {"x": {"b": [1, {"z": None}], "a": "é"}}),
    U("filter_tojson_float_keys", "{{ {1: 'a', 2.5: 'b', true: 'c', none: 'd'}|tojson }}"),
    U("filter_items", "{% for k, v in {'b': 1, 'a': 2}|items %}{{ k }}{{ v }}{% endfor %}[{% for k, v in missing|items %}x{% endfor %}]"),
    U("filter_dictsort", "{{ {'b': 1, 'A': 2, 'c': 0}|dictsort }} {{ {'b': 1, 'A': 2}|dictsort(true) }} {{ {'b': 1, 'a': 2}|dictsort(by='value') }} {{ {'b': 1, 'a': 2}|dictsort(reverse=true) }}"),
    U("filter_sort", "{{ [3, 1, 2]|sort }} {{ ['b', 'A', 'c']|sort }} {{ ['b', 'A', 'c']|sort(case_sensitive=true) }} {{ [3, 1, 2]|sort(reverse=true) }} {{ users|sort(attribute='age')|map(attribute='name')|list }}", {"users": [{"name": "x", "age": 30}, {"name": "y", "age": 20}]}),
    U("filter_unique_min_max_sum", "{{ ['a', 'A', 'b', 'a']|unique|list }} {{ [3, 1, 2]|min }} {{ [3, 1, 2]|max }} {{ ['b', 'A']|min }} {{ [1, 2, 3]|sum }} {{ [1.5, 2]|sum(start=10) }} {{ users|sum(attribute='age') }} [{{ []|max }}]", {"users": [{"age": 1}, {"age": 2}]}),
    U("filter_map_select", "{{ ['a', 'b']|map('upper')|list }} {{ users|map(attribute='name')|join(',') }} {{ users|map(attribute='zip', default='none')|list }} {{ [1, 2, 3, 4]|select('odd')|list }} {{ [1, 2, 3, 4]|reject('odd')|list }} {{ [0, 1, '', 'a']|select|list }}", {"users": [{"name": "n1"}, {"name": "n2"}]}),
    U("filter_selectattr", "{{ msgs|selectattr('role', 'equalto', 'user')|map(attribute='content')|list }} {{ msgs|rejectattr('role', 'eq', 'user')|list|length }} {{ msgs|selectattr('flag')|list|length }}", {"msgs": [{"role": "user", "content": "a", "flag": True}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]}),
    U("filter_replace_reverse", "{{ 'aaa'|replace('a', 'b') }} {{ 'aaa'|replace('a', 'b', 2) }} {{ 'abc'|reverse }} {{ [1, 2, 3]|reverse|list }} {{ 'héllo'|reverse }}"),
    U("filter_numbers", "{{ '42'|int }} {{ '3.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 3.9|int }} {{ '0x1A'|int(0, 16) }} {{ '2.5'|float }} {{ 'x'|float }} {{ -3|abs }} {{ -2.5|abs }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ 2.1|round(0, 'ceil') }} {{ 2.9|round(method='floor') }} {{ 5|round }}"),
    U("filter_escape_safe", "{{ '<a href=\"x\">&</a>'|e }} {{ '<b>'|safe }} {{ ('<b>'|safe) + '<i>' }} {{ '<i>' + ('<b>'|safe) }} {{ ('<b>'|safe) ~ '<i>' }} {{ '<x>'|forceescape }} {{ ('<x>'|e)|e }}"),
    U("filter_indent_center", "{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(1, blank=true) }}|{{ 'mid'|center(9) }}|{{ 'hello big world'|wordcount }}"),
    U("filter_batch_attr", "{{ [1, 2, 3, 4, 5]|batch(2)|list }} {{ [1, 2, 3]|batch(2, 0)|list }} {{ {'k': 'v'}|attr('k') }} {{ 'abc'|attr('upper') is callable }}"),
    U("filter_format", "{{ '%s=%d'|format('x', 3) }} {{ '%(a)s-%(b)05.1f'|format(a='A', b=2.25) }} {{ '%-5s|%5s|%x'|format('l', 'r', 255) }}"),
    # --- methods
    U("str_methods_strip_split", "[{{ '  x  '.strip() }}][{{ 'xxyxx'.strip('x') }}][{{ '  x'.lstrip() }}][{{ 'x\\n\\n'.rstrip('\\n') }}] {{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ 'l1\\nl2\\r\\nl3'.splitlines() }}"),
    U("str_methods_predicates", "{{ 'hello'.startswith('he') }}{{ 'hello'.startswith(('x', 'h')) }}{{ 'hello'.endswith('lo') }}{{ 'hello'.endswith('he') }}{{ 'hello'.startswith('l', 2) }}{{ '123'.isdigit() }}{{ 'ab'.isalpha() }}{{ ' '.isspace() }}{{ 'a1'.isalnum() }}{{ 'ab'.islower() }}{{ 'AB'.isupper() }}{{ ''.isdigit() }}"),
    U("str_methods_find_replace", "{{ 'hello'.find('l') }} {{ 'hello'.rfind('l') }} {{ 'hello'.find('z') }} {{ 'héllo'.index('l') }} {{ 'banana'.count('a') }} {{ 'aXbXc'.replace('X', '-') }} {{ 'aaa'.replace('a', 'b', 1) }} {{ 'ab'.replace('', '.') }}"),
    U("str_methods_case_join", "{{ 'MiXeD'.lower() }} {{ 'MiXeD'.upper() }} {{ 'hello world'.title() }} {{ 'hELLO'.capitalize() }} {{ '-'.join(['a', 'b', 'c']) }} {{ ''.join('xyz') }} {{ 'x'.center(5, '*') }} {{ 'x'.ljust(3, '.') }}|{{ 'x'.rjust(3) }}"),
    U("str_method_format", "{{ '{} and {}'.format('a', 1) }} {{ '{1}{0}'.format('a', 'b') }} {{ '{name}!'.format(name='N') }} {{ '{:>5}|{:<4}|{:^5}|{:.2f}|{:05d}|{!r}'.format('r', 'l', 'c', 3.14159, 42, 'q') }} {{ '{{literal}}'.format() }}"),
    U("str_percent_operator", "{{ '%s-%s' % ('a', 1) }} {{ '%d%%' % 50 }} {{ '%.3f' % 3.14159 }} {{ '%r' % 'q' }}"),
    U("think_split_chain", "{% set c = '<think>\\nreason\\n</think>\\n\\nanswer' %}{{ c.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}|{{ c.split('</think>')[-1].lstrip('\\n') }}"),
    U("dict_methods", "{{ d.get('a') }} {{ d.get('zz') }} {{ d.get('zz', 'dflt') }} {{ d.keys()|list }} {{ d.values()|list }} {% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %}", {"d": {"a": 1, "b": [2]}}),
    U("dict_attr_vs_item", "{{ d.items is callable }} {{ d['items'] is callable }} {{ d.get is callable }} {{ d.name }} {{ d['name'] }}", {"d": {"items": "value", "name": "n"}}),
    U("underscore_keys", "{{ d._meta }} {{ d['_meta'] }} {{ d.__class__ is defined }}", {"d": {"_meta": "m"}}),
    U("list_methods", "{{ [1, 2, 1].count(1) }} {{ ['a', 'b'].index('b') }}"),
    # --- indexing and slicing
    U("index_and_slice", "{{ l[0] }} {{ l[-1] }} {{ l[1:] }} {{ l[:2] }} {{ l[::2] }} {{ l[::-1] }} {{ l[-2:] }} {{ l[5:] }} {{ l[1:-1] }} {{ 'héllo'[1] }} {{ 'héllo'[1:3] }} {{ 'abc'[::-1] }} {{ l.0 }} [{{ l[10] }}]", {"l": [1, 2, 3, 4]}),
    U("nested_access", "{{ m.a.b[1].c }} {{ m['a']['b'][0] }} {{ m.a.missing is defined }}", {"m": {"a": {"b": [0, {"c": "deep"}]}}}),
    U("none_attribute_is_undefined", "[{{ x.y }}][{{ x.y is defined }}]", {"x": None}),
    U("undefined_falsy_empty", "[{{ missing }}]{% if missing %}yes{% else %}no{% endif %}{{ missing|length }}{{ missing is none }}"),
    # --- globals
    U("range_global", "{{ range(3)|list }} {{ range(1, 7, 2)|list }} {{ range(5, 0, -2)|list }} {{ range(0)|list }}"),
    U("dict_global", "{{ dict(a=1, b='x') }} {{ dict([['k', 'v']]) }}"),
    U("joiner_global", "{% set pipe = joiner(' | ') %}{% for x in [1, 2, 3] %}{{ pipe() }}{{ x }}{% endfor %}"),
    U("raise_exception_message", "{{ raise_exception('Custom failure: ' ~ 42) }}", expect_error=True),
    U("raise_exception_in_macro", "{% macro m() %}{{ raise_exception('from macro') }}{% endmacro %}ok{{ m() }}", expect_error=True),
    # --- more whitespace and scoping corners
    U("ws_spaces_after_block_end", "{% if true %}   \nx{% endif %}"),
    U("ws_tabs_lstrip", "a\n\t \t{% if true %}\n\tb\n\t{% endif %}\nc"),
    U("ws_comment_line_lstrip", "a\n    {# c #}\nb"),
    U("ws_minus_start_of_template", "   {%- if true %}x{% endif %}"),
    U("ws_var_at_line_start_kept", "a\n    {{ 'v' }}\n    {%- if true %}\n  w{% endif %}"),
    U("ws_block_after_text_same_line", "text {% if true %}\nX\n  {% endif %}  tail\nend"),
    U("ws_raw_lstrip", "a\n    {% raw %}\n  {{ x }}\n    {% endraw %}\nb"),
    U("ws_nested_minus_newlines", "{%- for i in [1, 2] -%}\n\n  {{- i -}}\n\n{%- endfor -%}\n!"),
    U("nested_macros", "{% macro outer(x) %}{% macro inner(y) %}<{{ y }}>{% endmacro %}{{ inner(x) }}{{ inner(x ~ '!') }}{% endmacro %}{{ outer('a') }}"),
    U("macro_call_in_loop_filter", "{% macro m(v) %}{{ v * 2 }}{% endmacro %}{% for i in [1, 2, 3] if m(i)|int > 2 %}{{ i }}{% endfor %}"),
    U("previtem_with_filter", "{% for x in [1, 2, 3, 4] if x is even %}{{ loop.previtem }}-{{ x }}-{{ loop.length }};{% endfor %}"),
    U("double_quoted_escapes", "{{ \"a\\\"b\\n\" }}|{{ \"single ' inside\" }}"),
    U("in_tuple_and_list", "{{ 2 in (1, 2) }} {{ (1, 2) in [(1, 2)] }} {{ [1, 2] in [[1, 2]] }}"),
    U("markup_concat_tilde_join", "{{ ('<a>'|safe) ~ '<b>' }} {{ ['<x>'|safe, '<y>']|join }} {{ ('<a>'|safe)|string + '<' }} {{ ('<a>'|safe)|trim + '<' }} {{ 3|e }}"),
    U("map_filters", "{{ ['1', '2']|map('int')|sum }} {{ [1, 2]|map('string')|join('+') }} {{ ['a', 'b']|map('replace', 'a', 'z')|list }}"),
    U("select_equalto_missing_attr", "{{ [1, 2, 2]|select('equalto', 2)|list }} {{ items|selectattr('a')|list|length }} {{ items|selectattr('a', 'defined')|list|length }}", {"items": [{"a": 1}, {"b": 2}, {"a": 0}]}),
    U("sort_dotted_attribute", "{{ xs|sort(attribute='p.q')|map(attribute='n')|join }}", {"xs": [{"n": "b", "p": {"q": 2}}, {"n": "a", "p": {"q": 1}}]}),
    U("float_arith", "{{ 10 // 3.0 }} {{ 2 ** 0.5 }} {{ 7 % 2.5 }} {{ 1e400 }} {{ -1e400 }} {{ 0.1 * 3 }} {{ 1.0 / 3 }} {{ 100.0 }}"),
    U("list_concat_and_repeat", "{% set x = [1, 2] %}{{ x + [3] }} {{ x * 2 }} {{ (x + [3])|length }}"),
    U("percent_format_more", "{{ '%s' % none }} {{ '%5.1f|%-6.2f|%+d' % (3.14159, 2.5, 5) }} {{ '%s and %s' % ('a', 'b') }} {{ '%05d' % 42 }} {{ '%5s|%-5s|%05s' % ('a', 'b', 'c') }}"),
    U("unicode_string_compare", "{{ 'é' > 'z' }} {{ 'abc' < 'abd' }} {{ ['b', 'é', 'a']|sort }}"),
    U("dict_literal_duplicate_keys", "{{ {'a': 1, 'b': 2, 'a': 3} }}"),
    U("set_overrides_loop_var", "{% for x in [1, 2] %}{% set x = x * 10 %}{{ x }}{% endfor %}"),
    U("namespace_repr_and_attr", "{% set ns = namespace() %}{% set ns.items = [1] %}{{ ns.items }} {{ ns }}"),
    U("loop_in_macro_sees_arg", "{% macro lst(xs, sep=', ') %}{% for x in xs %}{{ x }}{% if not loop.last %}{{ sep }}{% endif %}{% endfor %}{% endmacro %}{{ lst([1, 2, 3]) }}|{{ lst('ab', sep='-') }}"),
    U("chained_filters_and_tests", "{{ (messages|selectattr('role', 'eq', 'user')|list|last).content|upper }} {{ messages|length is odd }}", {"messages": [{"role": "user", "content": "first"}, {"role": "assistant", "content": "x"}, {"role": "user", "content": "last one"}]}),
    U("tojson_in_loop_ensure_ascii_default", "{% for t in tools %}{{ t|tojson }}\n{% endfor %}", {"tools": [{"name": "é", "d": "<tag> & 'q'"}, {"n": 1.0, "l": [None, True, {"x": -0.5}]}]}),
    U("string_method_chain", "{{ ' A,B ,c '.strip().lower().split(',')|map('trim')|join('|') }}"),
    U("int_float_filters_edge", "{{ true|int }} {{ none|int }} {{ '  7  '|int }} {{ '1_000'|int }} {{ '1e3'|float }} {{ 'inf'|float }} {{ '-0'|float }}"),
    U("length_of_filter_results", "{{ [1, 2, 3]|select('odd')|list|length }} {{ 'abc'|list|length }}"),
    U("none_comparisons", "{{ none == none }} {{ none != 0 }} {{ none in [none] }} {{ [none]|first is none }}"),
    U("if_tuple_test", "{% if 0, 0 %}tuple is truthy{% endif %}"),
    U("print_statement", "{% print 'a', 1 %}"),
    U("macro_returns_str_not_markup", "{% macro m() %}<b>{% endmacro %}{{ m() + '<i>' }}"),
    # --- runtime errors (the reference fails; so must we)
    U("error_undefined_chain", "{{ a.b.c }}", {"a": {}}, expect_error=True),
    U("error_undefined_arith", "{{ missing + 1 }}", expect_error=True),
    U("error_str_plus_int", "{{ 'a' + 1 }}", expect_error=True),
    U("error_items_on_string", "{% for k, v in 'str'|items %}{% endfor %}", expect_error=True),
    U("error_compare_types", "{{ 1 < 'a' }}", expect_error=True),
    U("error_namespace_assign_non_namespace", "{% set d = {} %}{% set d.x = 1 %}", expect_error=True),
    U("error_unpack_count", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", expect_error=True),
    U("error_macro_too_many_args", "{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", expect_error=True),
    U("error_call_undefined", "{{ nope() }}", expect_error=True),
    U("error_tojson_undefined", "{{ missing|tojson }}", expect_error=True),
    U("error_division_by_zero", "{{ 1 / 0 }}", expect_error=True),
    U("error_not_iterable", "{% for x in 5 %}{% endfor %}", expect_error=True),
    U("error_unsafe_mutation", "{{ [1].append(2) }}", expect_error=True),
    # --- syntax errors (the reference rejects the template)
    U("syntax_unknown_filter", "{{ x|nope }}", expect_error=True),
    U("syntax_unknown_test", "{{ x is nope }}", expect_error=True),
    U("syntax_unterminated_for", "{% for x in y %}body", expect_error=True),
    U("syntax_unknown_tag", "{% frobnicate %}", expect_error=True),
    U("syntax_break_outside_loop", "{% break %}", expect_error=True),
    U("syntax_unclosed_variable", "{{ x ", expect_error=True),
    U("syntax_bad_paren", "{{ (1 + 2 }}", expect_error=True),
    U("syntax_missing_comment_end", "{# never closed", expect_error=True),
    U("syntax_mismatched_end", "{% if x %}{% endfor %}", expect_error=True),
    U("syntax_empty_expression", "{{ }}", expect_error=True),
    U("syntax_do_not_enabled", "{% do x %}", expect_error=True),
]


def make_environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.now().strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[AssistantTracker, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def prepare_messages(messages):
    """Mirror of the C++ front end: JSON-string tool-call arguments become objects."""
    messages = copy.deepcopy(messages)
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("tool_calls"), list):
            continue
        for call in message["tool_calls"]:
            if not isinstance(call, dict):
                continue
            holder = call["function"] if isinstance(call.get("function"), dict) else call
            if isinstance(holder.get("arguments"), str):
                parsed = json.loads(holder["arguments"])
                if not isinstance(parsed, dict):
                    raise ValueError("arguments must be a JSON object")
                holder["arguments"] = parsed
    return messages


def render_chat(template, messages, tools, kwargs):
    kwargs = dict(kwargs)
    add_generation_prompt = kwargs.pop("add_generation_prompt", False)
    return template.render(messages=prepare_messages(messages), tools=tools, documents=None,
                           add_generation_prompt=add_generation_prompt, **kwargs)


# ----------------------------------------------------------------------------- chat cases

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. \"Paris\""},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "web_search",
        "description": "Search the web & return <= 5 results (ünïcödé, 日本語).",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "max_results": {"type": "integer", "minimum": 1, "maximum": 5, "default": 3},
                "filters": {"type": "array", "items": {"type": "string"}},
                "strict": {"type": "boolean"},
                "weight": {"type": "number", "default": 0.5},
            },
            "required": ["query"],
        },
    },
}

USER_HI = {"role": "user", "content": "Hi"}


def call(name, arguments, wrapped=True, call_id=None):
    body = {"name": name, "arguments": arguments}
    if not wrapped:
        return body
    c = {"type": "function", "function": body}
    if call_id:
        c["id"] = call_id
    return c


def chat_cases():
    cases = []

    def add(name, messages, tools=None, **kwargs):
        cases.append({"name": name, "messages": messages, "tools": tools, "kwargs": kwargs})

    gen = {"add_generation_prompt": True}
    add("single_user_generation_prompt", [USER_HI], **gen)
    add("thinking_disabled", [USER_HI], enable_thinking=False, **gen)
    add("thinking_enabled", [USER_HI], enable_thinking=True, **gen)
    add("thinking_string_false_is_not_false", [USER_HI], enable_thinking="false", **gen)
    add("thinking_zero_is_not_false", [USER_HI], enable_thinking=0, **gen)
    add("no_generation_prompt", [USER_HI], add_generation_prompt=False)
    add("generation_prompt_absent", [USER_HI])
    add("system_and_user", [{"role": "system", "content": "You are a helpful assistant."},
                            {"role": "user", "content": "What is 2+2?"}], **gen)
    add("empty_system", [{"role": "system", "content": ""}, USER_HI], **gen)
    add("system_parts_list", [{"role": "system", "content": [
        {"type": "text", "text": "Be brief. "}, {"type": "text", "text": "Be kind."}]}, USER_HI],
        **gen)
    add("multi_turn", [
        {"role": "user", "content": "Hello!"},
        {"role": "assistant", "content": "Hi there. How can I help?"},
        {"role": "user", "content": "Tell me a joke."},
        {"role": "assistant", "content": "Why did the chicken cross the road?"},
        {"role": "user", "content": "Why?"},
    ], **gen)
    add("history_inline_think_dropped", [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "<think>\nr1\n</think>\n\nA1"},
        {"role": "user", "content": "Q2"},
    ], **gen)
    add("current_round_inline_think_kept", [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "<think>\nreasoning here\n</think>\n\nA1"},
    ])
    add("reasoning_content_before_last_query", [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1", "reasoning_content": "thought about Q1"},
        {"role": "user", "content": "Q2"},
    ], enable_thinking=True, **gen)
    add("reasoning_content_after_last_query", [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1", "reasoning_content": "\n  thought about Q1  \n"},
    ])
    add("reasoning_content_null_falls_back_to_inline", [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "<think>inline</think>A1", "reasoning_content": None},
    ])
    add("empty_reasoning_after_last_query", [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
    ], **gen)
    add("tools_two_schemas", [{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL, SEARCH_TOOL], **gen)
    add("tools_with_system", [{"role": "system", "content": "You can call tools."},
                              {"role": "user", "content": "Search for cats"}],
        tools=[SEARCH_TOOL], **gen)
    add("tools_with_empty_system", [{"role": "system", "content": "  "}, USER_HI],
        tools=[WEATHER_TOOL], **gen)
    add("tools_empty_list", [USER_HI], tools=[], **gen)
    add("tools_plain_function_schema", [USER_HI],
        tools=[{"name": "noop", "description": "No-op", "parameters": {}}], **gen)
    add("tool_call_object_arguments", [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [
            call("get_weather", {"city": "Paris", "unit": "celsius"}, call_id="c1")]},
    ])
    add("tool_call_json_string_arguments", [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            call("get_weather", "{\"city\": \"Paris\", \"unit\": \"celsius\"}")]},
    ], tools=[WEATHER_TOOL])
    add("tool_call_argument_types", [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": "calling", "tool_calls": [call("f", {
            "s": "a\nb", "i": 42, "neg": -7, "x": 1.5, "whole": 1.0, "tiny": 1e-07,
            "huge": 1e16, "t": True, "f": False, "n": None, "list": [1, "two", 3.0, None],
            "obj": {"k": "v", "nested": {"z": [True]}}, "empty_list": [], "empty_obj": {},
            "uni": "héllo 世界 🙂", "quotes": "say \"hi\" 'there' \\ <b>&</b>"})]},
    ])
    add("tool_call_json_string_argument_types", [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": "", "tool_calls": [call(
            "f", "{\"x\": 1.50, \"big\": 12345678901234, \"exp\": 2.5e-3, \"arr\": [1,2], "
                 "\"o\": {\"b\": 1, \"a\": 2}, \"u\": \"\\u00e9\\ud83d\\ude00\"}")]},
    ])
    add("tool_call_empty_arguments", [
        {"role": "user", "content": "ping"},
        {"role": "assistant", "content": "", "tool_calls": [call("ping", {})]},
    ])
    add("tool_call_unwrapped", [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": "", "tool_calls": [call("f", {"a": 1}, wrapped=False)]},
    ])
    add("tool_calls_multiple", [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": "", "tool_calls": [
            call("get_weather", {"city": "Paris"}), call("get_weather", "{\"city\": \"Rome\"}")]},
    ], tools=[WEATHER_TOOL])
    add("tool_response_single", [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [call("get_weather", {"city": "Paris"})]},
        {"role": "tool", "content": "{\"temp\": 21, \"sky\": \"clear\"}", "tool_call_id": "c1"},
    ], tools=[WEATHER_TOOL], **gen)
    add("tool_responses_consecutive", [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            call("get_weather", {"city": "Paris"}), call("get_weather", {"city": "Rome"})]},
        {"role": "tool", "content": "Paris: 21C"},
        {"role": "tool", "content": "Rome: 25C"},
    ], tools=[WEATHER_TOOL], enable_thinking=False, **gen)
    add("agent_loop_full", [
        {"role": "system", "content": "You are an agent."},
        {"role": "user", "content": "Plan a trip."},
        {"role": "assistant", "content": "", "reasoning_content": "Need weather first.",
         "tool_calls": [call("get_weather", {"city": "Paris"})]},
        {"role": "tool", "content": "sunny"},
        {"role": "assistant", "content": "Now search.", "reasoning_content": "Then hotels.",
         "tool_calls": [call("web_search", {"query": "hotels Paris", "max_results": 2})]},
        {"role": "tool", "content": "[\"Hotel A\", \"Hotel B\"]"},
        {"role": "assistant", "content": "Go to Paris, stay at Hotel A.",
         "reasoning_content": "Done."},
    ], tools=[WEATHER_TOOL, SEARCH_TOOL])
    add("agent_loop_then_new_user_turn", [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "", "reasoning_content": "call it",
         "tool_calls": [call("get_weather", {"city": "Oslo"})]},
        {"role": "tool", "content": "cold"},
        {"role": "assistant", "content": "It is cold.", "reasoning_content": "answer"},
        {"role": "user", "content": "Thanks!"},
    ], tools=[WEATHER_TOOL], **gen)
    add("user_tool_response_not_a_query", [
        {"role": "user", "content": "Start"},
        {"role": "assistant", "content": "ok", "reasoning_content": "r"},
        {"role": "user", "content": "<tool_response>\nresult\n</tool_response>"},
    ], **gen)
    add("tool_first_message", [
        {"role": "tool", "content": "orphan result"},
        {"role": "user", "content": "continue"},
    ], **gen)
    add("content_text_parts", [{"role": "user", "content": [
        {"type": "text", "text": "Part one. "}, {"type": "text", "text": "Part two."}]}], **gen)
    add("content_image_and_text", [{"role": "user", "content": [
        {"type": "image", "image": "file:///a.png"}, {"type": "text", "text": "Describe."}]}],
        **gen)
    add("content_image_url", [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
        {"type": "text", "text": "What is this?"}]}], **gen)
    add("content_video", [{"role": "user", "content": [
        {"type": "video", "video": "file:///v.mp4"}, {"type": "text", "text": "Summarize."}]}],
        **gen)
    add("content_image_video_text", [{"role": "user", "content": [
        {"type": "image"}, {"type": "video"}, {"type": "text", "text": "Describe."}]}], **gen)
    add("vision_ids_across_messages", [
        {"role": "user", "content": [{"type": "image"}, {"type": "image_url", "image_url": {}},
                                     {"type": "text", "text": "Compare."}]},
        {"role": "assistant", "content": "They differ."},
        {"role": "user", "content": [{"type": "video"}, {"type": "image"},
                                     {"type": "text", "text": "And these?"}]},
    ], add_vision_id=True, **gen)
    add("vision_ids_off", [{"role": "user", "content": [{"type": "image"}, {"type": "image"}]}],
        add_vision_id=False, **gen)
    add("unicode_emoji_cjk", [
        {"role": "system", "content": "Réponds en français 🇫🇷"},
        {"role": "user", "content": "你好，世界！👋🏽 Ünïcödé — “quotes” ‘single’"},
        {"role": "assistant", "content": "Bonjour ! 😀"},
        {"role": "user", "content": "ありがとう"},
    ], **gen)
    add("quotes_backslashes_newlines", [
        {"role": "user", "content": "Line1\nLine2\r\n\tTabbed \"dq\" 'sq' \\back\\slash {{ not jinja }} {% raw %}"},
    ], **gen)
    add("unicode_whitespace_trimmed", [
        {"role": "user", "content": "\u3000\u00a0  padded text \n\u2003"},
        {"role": "assistant", "content": "\n\n answer \t"},
        {"role": "user", "content": "\u2028next\u2029"},
    ], **gen)
    add("assistant_null_content_with_tool_call", [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [call("f", {"a": "b"})]},
        {"role": "tool", "content": "done"},
    ], **gen)
    add("assistant_prefill_last", [
        {"role": "user", "content": "Write a haiku."},
        {"role": "assistant", "content": "Autumn moonlight—"},
    ], enable_thinking=False)
    add("extra_kwargs_ignored", [USER_HI], custom_flag=True, bos_token="<s>", **gen)
    add("tool_message_parts_content", [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": "", "tool_calls": [call("f", {})]},
        {"role": "tool", "content": [{"type": "text", "text": "part result"}]},
    ], **gen)
    # Errors raised by the template itself (raise_exception).
    add("error_no_messages", [], **gen)
    add("error_no_user_query", [{"role": "system", "content": "s"},
                                {"role": "assistant", "content": "a"}], **gen)
    add("error_only_tool_response_user", [
        {"role": "user", "content": "<tool_response>\nx\n</tool_response>"}], **gen)
    add("error_system_not_first", [USER_HI, {"role": "system", "content": "late"}], **gen)
    add("error_developer_role", [{"role": "developer", "content": "dev"}, USER_HI], **gen)
    add("error_image_in_system", [{"role": "system", "content": [{"type": "image"}]}, USER_HI],
        **gen)
    add("error_video_in_system", [{"role": "system", "content": [{"type": "video"}]}, USER_HI],
        tools=[WEATHER_TOOL], **gen)
    add("error_unexpected_item_type", [{"role": "user", "content": [
        {"type": "audio", "audio": "x.wav"}]}], **gen)
    add("error_unexpected_content_type", [{"role": "user", "content": 42}], **gen)
    return cases


def build_chat_cases(env, template_text):
    template = env.from_string(template_text)
    out = []
    for case in chat_cases():
        entry = dict(case)
        try:
            entry["expected"] = render_chat(template, case["messages"], case["tools"],
                                            case["kwargs"])
        except jinja2.exceptions.TemplateError as e:
            if type(e) is not jinja2.exceptions.TemplateError:
                raise  # only raise_exception errors are reference behaviour
            entry["error"] = str(e)
        out.append(entry)
    return out


def build_unit_cases(env):
    out, problems = [], []
    for case in UNIT_CASES:
        entry = {"name": case["name"], "template": case["template"],
                 "context": case.get("context", {})}
        try:
            entry["expected"] = env.from_string(case["template"]).render(**entry["context"])
        except Exception as e:  # noqa: BLE001 - every failure is either expected or reported
            entry["error"] = f"{type(e).__name__}: {e}"
            if type(e) is jinja2.exceptions.TemplateError:
                entry["raised"] = str(e)  # raise_exception(): the exact message is the contract
        if case.get("expect_error") != ("error" in entry):
            problems.append(f"{case['name']}: {entry.get('error', 'rendered without error')}")
        out.append(entry)
    if problems:
        sys.exit("unit cases disagree with their expect_error flag:\n  " + "\n  ".join(problems))
    return out


def write_json(path, data):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", default="/work/shared")
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()
    assert jinja2.__version__ >= "3.1", "transformers requires jinja2 >= 3.1"
    env = make_environment()
    for folder, source in (("chat_template_qwen35", "chat_template.jinja"),
                           ("chat_template_qwen35_small", "chat_template_small.jinja")):
        target = os.path.join(args.out, folder)
        os.makedirs(target, exist_ok=True)
        template_path = os.path.join(target, "chat_template.jinja")
        shutil.copyfile(os.path.join(args.shared, "reference", "qwen3.5", source), template_path)
        with open(template_path, encoding="utf-8") as f:
            text = f.read()
        cases = build_chat_cases(env, text)
        write_json(os.path.join(target, "cases.json"), cases)
        errors = sum("error" in c for c in cases)
        print(f"{folder}: {len(cases)} cases ({errors} raise_exception errors)")
    units_dir = os.path.join(args.out, "chat_template_units")
    os.makedirs(units_dir, exist_ok=True)
    units = build_unit_cases(env)
    write_json(os.path.join(units_dir, "cases.json"), units)
    print(f"chat_template_units: {len(units)} cases ({sum('error' in c for c in units)} errors)")


if __name__ == "__main__":
    main()
