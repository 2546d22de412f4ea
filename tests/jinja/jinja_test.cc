// The Jinja subset on hand-written templates: whitespace rules, scoping,
// macros, loops, Python value semantics, errors and resource limits.
#include <gtest/gtest.h>

#include "jinja/chat_template.h"

namespace tf {
namespace {

std::string Render(const std::string& source, nlohmann::ordered_json extra = nullptr) {
  auto t = ChatTemplate::Parse(source);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  if (!t.ok()) return "<parse error>";
  ChatTemplateInputs in;
  in.messages = nlohmann::ordered_json::array({{{"role", "user"}, {"content", "hi"}}});
  in.bos_token = "<s>";
  in.extra = std::move(extra);
  auto out = (*t)->Render(in);
  return out.ok() ? *out : "<error: " + out.status().message() + ">";
}

Status RenderStatus(const std::string& source) {
  auto t = ChatTemplate::Parse(source);
  if (!t.ok()) return t.status();
  return (*t)->Render(ChatTemplateInputs{}).status();
}

TEST(JinjaTest, WhitespaceControlTrimAndLstripBlocks) {
  EXPECT_EQ(Render("a  {%- if true -%}  b  {%- endif -%}  c"), "abc");
  // trim_blocks drops the newline after a block tag; lstrip_blocks the
  // indentation before it.
  EXPECT_EQ(Render("x\n  {% if true %}\n  y\n  {% endif %}\nz"), "x\n  y\nz");
  EXPECT_EQ(Render("{{ 'a' }}\n{{ 'b' }}"), "a\nb");          // not after {{ }}
  EXPECT_EQ(Render("a {%+ if true %}b{% endif %}"), "a b");    // + keeps it
  EXPECT_EQ(Render("keep\n"), "keep");                         // one trailing newline dropped
  EXPECT_EQ(Render("{# comment #}\nx"), "x");
  EXPECT_EQ(Render("{% raw %}{{ not parsed }}{% endraw %}"), "{{ not parsed }}");
}

TEST(JinjaTest, PythonValueSemantics) {
  EXPECT_EQ(Render("{{ [1, 'a', none, true, 1.5] }}"), "[1, 'a', None, True, 1.5]");
  EXPECT_EQ(Render("{{ {'k': \"it's\"} }}"), "{'k': \"it's\"}");
  EXPECT_EQ(Render("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }}"), "3 -4 1 3.5 1024");
  EXPECT_EQ(Render("{{ 'ab' * 3 }}{{ 1 ~ 'x' }}{{ [1] + [2] }}"), "ababab1x[1, 2]");
  EXPECT_EQ(Render("{{ 'abcdef'[1:4] }} {{ 'abc'[::-1] }} {{ [1,2,3][-1] }}"), "bcd cba 3");
  EXPECT_EQ(Render("{{ 1e-5 }} {{ 1e16 }} {{ 0.1 + 0.2 }}"), "1e-05 1e+16 0.30000000000000004");
  EXPECT_EQ(Render("{{ none or 'x' }} {{ 0 and 1 }}"), "x 0");
  EXPECT_EQ(Render("{{ 'a' in 'cat' }} {{ 2 not in [1, 3] }} {{ 'k' in {'k': 1} }}"), "True True True");
}

TEST(JinjaTest, LoopsScopesAndNamespaces) {
  EXPECT_EQ(Render("{% for x in [1,2,3] %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}"),
            "11,22,33");
  EXPECT_EQ(Render("{% for x in [] %}a{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(Render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"), "a=1;b=2;");
  EXPECT_EQ(Render("{% for x in [1,2,3,4] if x is even %}{{ x }}{% endfor %}"), "24");
  EXPECT_EQ(Render("{% for x in [1,2,3] %}{% if x == 2 %}{% break %}{% endif %}{{ x }}{% endfor %}"), "1");
  // A set inside a loop does not leak; a namespace attribute does.
  EXPECT_EQ(Render("{% set n = 0 %}{% for x in [1,2] %}{% set n = n + x %}{% endfor %}{{ n }}"), "0");
  EXPECT_EQ(Render("{% set ns = namespace(n=0) %}{% for x in [1,2] %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}"), "3");
  EXPECT_EQ(Render("{% for x in 'ab' %}{{ loop.previtem }}{{ x }}{{ loop.nextitem }}|{% endfor %}"), "ab|ab|");
}

TEST(JinjaTest, MacrosCallerAndFilters) {
  EXPECT_EQ(Render("{% macro m(a, b='d') %}[{{ a }}{{ b }}]{% endmacro %}{{ m(1) }}{{ m(2, b='x') }}"), "[1d][2x]");
  EXPECT_EQ(Render("{% macro w() %}<{{ caller() }}>{% endmacro %}{% call w() %}in{% endcall %}"), "<in>");
  EXPECT_EQ(Render("{{ [{'a': 1}, {'a': 2}, {'b': 3}] | selectattr('a') | map(attribute='a') | join(',') }}"), "1,2");
  EXPECT_EQ(Render("{{ '  x  ' | trim }}|{{ 'Ab' | lower }}|{{ 'ab cd' | title }}|{{ [3,1,2] | sort | list }}"),
            "x|ab|Ab Cd|[1, 2, 3]");
  EXPECT_EQ(Render("{{ {'b': [1, 'é'], 'a': none} | tojson }}"), "{\"b\": [1, \"é\"], \"a\": null}");
  EXPECT_EQ(Render("{{ {'a': [1]} | tojson(indent=2) }}"), "{\n  \"a\": [\n    1\n  ]\n}");
  EXPECT_EQ(Render("{{ undefined_thing | default('fallback') }}{{ messages | length }}"), "fallback1");
  EXPECT_EQ(Render("{{ 'a,b,,c'.split(',') }} {{ ' x y '.split() }}"), "['a', 'b', '', 'c'] ['x', 'y']");
  EXPECT_EQ(Render("{{ messages[0].content.upper() }} {{ messages[0]['role'] }}"), "HI user");
}

TEST(JinjaTest, ErrorsAreStatusesNotCrashes) {
  EXPECT_NE(RenderStatus("{% if %}").message().find("line 1"), std::string::npos);
  EXPECT_NE(RenderStatus("{% for x in y %}").message().find("endfor"), std::string::npos);
  EXPECT_NE(RenderStatus("{{ raise_exception('Roles must alternate') }}").message().find("Roles must alternate"),
            std::string::npos);
  EXPECT_NE(RenderStatus("{{ nothing.attr }}").message().find("'nothing' is undefined"), std::string::npos);
  EXPECT_NE(RenderStatus("{{ 1 / 0 }}").message().find("division by zero"), std::string::npos);
  EXPECT_NE(RenderStatus("{{ x | no_such_filter }}").message().find("No filter named"), std::string::npos);
  EXPECT_NE(RenderStatus("{{ [1] | map('string') | tojson }}").message().find("generator"), std::string::npos);
  EXPECT_NE(RenderStatus("{% set l = [] %}{{ l.append(1) }}").message().find("unsafe"), std::string::npos);
  EXPECT_FALSE(RenderStatus("{{ 'unterminated }}").ok());
  EXPECT_EQ(Render("{{ (((((((((((((((((((((((((((1))))))))))))))))))))))))))) }}"), "1");  // deep but legal
  // Integers are 64-bit: where Python's would grow, the template fails instead of wrapping.
  for (const char* t : {"{{ 9223372036854775807 + 1 }}", "{{ -(-9223372036854775807 - 1) }}", "{{ 3 ** 50 }}",
                        "{{ (-9223372036854775807 - 1) // -1 }}", "{{ 4611686018427387904 * 2 }}"}) {
    EXPECT_NE(RenderStatus(t).message().find("integer overflow"), std::string::npos) << t;
  }
  EXPECT_EQ(Render("{{ (-1) ** 1001 }} {{ 1 ** 9223372036854775807 }} {{ 2 ** 62 }} {{ -7 % 3 }} {{ 7 // -2 }}"),
            "-1 1 4611686018427387904 2 -4");
  EXPECT_EQ(Render("{{ [1, 2, 3][::9223372036854775807] }} {{ 'abc'[-100:100] }}"), "[1] abc");
}

TEST(JinjaTest, HostileTemplatesAreBounded) {
  // Output, iterations and recursion all stop with an error.
  EXPECT_NE(RenderStatus("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}").message()
                .find("loop iterations"),
            std::string::npos);
  EXPECT_NE(RenderStatus("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").message().find("nested deeper"),
            std::string::npos);
  EXPECT_FALSE(RenderStatus("{{ 'x' * 100000000 }}").ok());
  EXPECT_FALSE(RenderStatus("{{ 'ab' * 9223372036854775807 }}").ok());  // size * n would wrap
  std::string deep = "{{ ";
  for (int i = 0; i < 5000; ++i) deep += "(";
  deep += "1";
  for (int i = 0; i < 5000; ++i) deep += ")";
  deep += " }}";
  EXPECT_NE(RenderStatus(deep).message().find("nested too deeply"), std::string::npos);
  EXPECT_FALSE(RenderStatus("{{ range(10000000) | length }}").ok());
  EXPECT_NE(RenderStatus("{{ range(100001) | length }}").message().find("range() longer than"), std::string::npos);
  // Nested loops count together (90,000 x 3 iterations) against the limit.
  EXPECT_NE(RenderStatus("{% for i in range(90000) %}{% for j in range(2) %}{% endfor %}{% endfor %}").message()
                .find("loop iterations"),
            std::string::npos);
  EXPECT_EQ(Render("{{ range(100000) | length }}"), "100000");
}

}  // namespace
}  // namespace tf
