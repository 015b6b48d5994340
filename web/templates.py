"""The page's Jinja2 templates, kept as Python strings so they ship with the code.

One small script (no build step): the conflict badge opens the drill-down
in a dialog by fetching the same page the link points to.
"""

from __future__ import annotations

from jinja2 import DictLoader, Environment, select_autoescape

__all__ = ["environment"]

_BASE = """<!doctype html>
<html lang="{{ 'zh-CN' if t.lang == 'zh' else 'en' }}">
<head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>stockbridge · {{ t('title') }}</title>
<style>
body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;color:#222}
header{display:flex;gap:1rem;align-items:center;flex-wrap:wrap;padding:.6rem 1rem;background:#1d3557;color:#fff}
header a{color:#fff;text-decoration:none;padding:.5rem}
main{padding:1rem}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin-bottom:.8rem}
input,select,button{font-size:1rem;padding:.5rem;min-height:44px}
button{cursor:pointer}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{border-bottom:1px solid #ddd;padding:.45rem;text-align:left;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}
thead th{position:sticky;top:0;background:#f1f4f8}
.badge{display:inline-block;border-radius:1rem;padding:.1rem .6rem;font-size:.8rem;margin:.1rem}
.green{background:#d8f3dc;color:#1b4332}.amber{background:#ffe8a1;color:#7a4f00}.red{background:#ffd6d6;color:#8b0000}
a.conflict{background:#c1121f;color:#fff;text-decoration:none;padding:.3rem .7rem}
.pager{display:flex;gap:.5rem;align-items:center;margin:.8rem 0;flex-wrap:wrap}
.pager a{padding:.5rem .8rem;border:1px solid #ccc;text-decoration:none}
dialog{max-width:95vw;width:1100px;max-height:90vh;overflow:auto}
.notice{background:#e9f5ff;padding:.6rem}
</style></head>
<body>
<header><strong>stockbridge</strong>
{% if who %}<a href="/?lang={{ t.lang }}">{{ t('title') }}</a><a href="/health">{{ t('health') }}</a>
{% if who.role == 'admin' %}<a href="/audit">{{ t('audit') }}</a>{% endif %}{% endif %}
<a id="lang" href="{{ lang_url }}">{{ t('language') }}</a>
{% if who %}<span>{{ who.actor }} · {{ who.role }}</span>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="{{ csrf }}"><button>{{ t('logout') }}</button></form>{% endif %}
</header>
<main>{% if notice %}<p class="notice">{{ notice }}</p>{% endif %}{% block main %}{% endblock %}</main>
</body></html>"""

_LOGIN = """{% extends "base.html" %}{% block main %}
<h1>{{ t('login') }}</h1><p>{{ t('login_hint') }}</p>
{% if failed %}<p class="red">{{ t('login_failed') }}</p>{% endif %}
<form method="post" action="/login"><input type="hidden" name="csrf" value="{{ csrf }}">
<input type="hidden" name="next" value="{{ next }}">
<label>{{ t('token') }} <input name="token" type="password" autocomplete="off" size="50" required></label>
<button type="submit">{{ t('login') }}</button></form>{% endblock %}"""

_BADGES = """{% macro badges(row, freshness) %}{% for source, qty in row.sources.items() %}
<span class="badge {{ freshness[source].level if source in freshness else 'red' }}" title="{{ source }}">{{ source }} {{ qty }}</span>
{% endfor %}{% endmacro %}"""

_STOCK = """{% extends "base.html" %}{% from "badges.html" import badges %}{% block main %}
<h1>{{ t('title') }}</h1>
<form class="filters" method="get" action="/">
<input type="search" name="q" value="{{ f.q }}" placeholder="{{ t('search') }}" aria-label="{{ t('search') }}">
<select name="site" aria-label="{{ t('site') }}"><option value="">{{ t('site') }}: {{ t('any') }}</option>
{% for s in sites %}<option {{ 'selected' if s == f.site }}>{{ s }}</option>{% endfor %}</select>
<select name="warehouse" aria-label="{{ t('warehouse') }}"><option value="">{{ t('warehouse') }}: {{ t('any') }}</option>
{% for w in warehouses %}<option {{ 'selected' if w == f.warehouse }}>{{ w }}</option>{% endfor %}</select>
<select name="status" aria-label="{{ t('status') }}"><option value="">{{ t('status') }}: {{ t('any') }}</option>
{% for s in statuses %}<option {{ 'selected' if s == f.status }}>{{ s }}</option>{% endfor %}</select>
<label><input type="checkbox" name="conflicts" value="1" {{ 'checked' if f.conflicts }}> {{ t('conflicts_only') }}</label>
<label><input type="checkbox" name="below_safety" value="1" {{ 'checked' if f.below_safety }}> {{ t('below_safety') }}</label>
<select name="sort" aria-label="{{ t('sort') }}">{% for s in sortable %}<option {{ 'selected' if s == f.sort }}>{{ s }}</option>{% endfor %}</select>
<select name="order"><option {{ 'selected' if f.order == 'asc' }}>asc</option><option {{ 'selected' if f.order == 'desc' }}>desc</option></select>
<button type="submit">{{ t('apply') }}</button>
<a href="/export.csv?{{ query }}">{{ t('export_csv') }}</a> <a id="export-xlsx" href="/export.xlsx?{{ query }}">{{ t('export_xlsx') }}</a>
</form>
<p>{{ first_row }}–{{ last_row }} {{ t('of') }} {{ total }} {{ t('rows') }}</p>
<div class="scroll"><table id="stock"><thead><tr>
<th>{{ t('material') }}</th><th>{{ t('name') }}</th><th>{{ t('site') }}</th><th>{{ t('warehouse') }}</th><th>{{ t('location') }}</th>
<th>{{ t('batch') }}</th><th>{{ t('status') }}</th><th>{{ t('quantity') }}</th><th>{{ t('available') }}</th><th>{{ t('safety_stock') }}</th>
<th>{{ t('days_of_cover') }}</th><th>{{ t('consumption') }}</th><th>{{ t('sources') }}</th><th>{{ t('conflict') }}</th></tr></thead><tbody>
{% for r in rows %}<tr>
<td>{{ r.material }}</td><td>{{ r.material_name or '' }}</td><td>{{ r.site }}</td><td>{{ r.warehouse }}</td><td>{{ r.location }}</td>
<td>{{ r.batch }}</td><td>{{ r.status }}</td><td class="num">{{ r.quantity }} {{ r.unit }}</td><td class="num">{{ r.available }}</td>
<td class="num">{{ r.safety_stock if r.safety_stock is not none else '' }}</td><td class="num">{{ r.days_of_cover if r.days_of_cover is not none else '' }}</td>
<td>{{ r.sparkline | safe }}</td><td>{{ badges(r, freshness) }}</td>
<td>{% if r.conflict %}<a class="badge conflict" href="{{ r.detail_url }}">{{ t('conflict') }}</a>{% endif %}</td></tr>
{% else %}<tr><td colspan="14">{{ t('no_rows') }}</td></tr>{% endfor %}
</tbody></table></div>
<nav class="pager">{% for label, url in pager %}<a href="{{ url }}">{{ t(label) }}</a>{% endfor %}</nav>
<dialog id="drill"><form method="dialog"><button>{{ t('close') }}</button></form><div id="drill-body"></div></dialog>
<script>
document.querySelectorAll("a.conflict").forEach(function (a) {
  a.addEventListener("click", function (e) {
    e.preventDefault();
    fetch(a.href + "&partial=1", {credentials: "same-origin"}).then(function (r) { return r.text(); })
      .then(function (html) { document.getElementById("drill-body").innerHTML = html; document.getElementById("drill").showModal(); });
  });
});
</script>{% endblock %}"""

_DRILL = """<section id="drilldown"><h2>{{ t('drilldown') }}: {{ key.material }} · {{ key.site }}/{{ key.warehouse }}{{ '/' + key.location if key.location }} {{ key.batch }} {{ key.status }}</h2>
{% if report and report.conflict %}<p class="badge red">{{ t('difference') }} {{ report.conflict.difference }} · {{ t('since') }} {{ when(report.conflict.first_seen_at) }}</p>{% endif %}
<h3>{{ t('per_source') }}</h3><table><thead><tr><th>{{ t('source') }}</th><th>{{ t('quantity') }}</th><th>{{ t('as_of') }}</th><th></th></tr></thead><tbody>
{% for fig in figures %}<tr><td>{{ fig.source }}{% if row and row.chosen_source == fig.source %} ({{ t('chosen') }}){% endif %}</td>
<td class="num">{{ fig.quantity if fig.quantity is not none else '' }} {{ fig.unit }}</td><td>{{ when(fig.as_of) }}</td>
<td><span class="badge {{ freshness[fig.source].level if fig.source in freshness else 'red' }}">{{ fresh_word(fig.source) }}</span></td></tr>{% endfor %}
</tbody></table>
{% for c in comparisons %}<h3>{{ c.a }} ↔ {{ c.b }}: {{ c.summary }}</h3>
<table class="side"><thead><tr><th>{{ t('posted') }}</th><th>{{ c.a }}</th><th>{{ t('quantity') }}</th><th>{{ c.b }}</th><th>{{ t('quantity') }}</th><th>{{ t('note') }}</th></tr></thead><tbody>
{% for r in c.rows %}<tr><td>{{ r.posted }}</td><td>{{ r.a }}</td><td class="num">{{ r.qa }}</td><td>{{ r.b }}</td><td class="num">{{ r.qb }}</td>
<td>{% if r.note == 'unmatched' %}<span class="badge red">{{ t('unmatched') }}</span>{% else %}{{ r.note }}{% endif %}</td></tr>{% endfor %}
</tbody></table>{% else %}<p>{{ t('no_movements') }}</p>{% endfor %}</section>"""

_DETAIL = """{% extends "base.html" %}{% block main %}{% include "drill.html" %}{% endblock %}"""

_HEALTH = """{% extends "base.html" %}{% block main %}<h1>{{ t('health') }}</h1>
{% if can_operate %}<form method="post" action="/health/sync"><input type="hidden" name="csrf" value="{{ csrf }}"><button>{{ t('sync_now') }}</button></form>
<form method="post" action="/health/retry"><input type="hidden" name="csrf" value="{{ csrf }}"><button>{{ t('retry_rejects') }}</button></form>{% endif %}
<p>{% for name, f in freshness.items() %}<span class="badge {{ f.level }}">{{ name }}: {{ when(f.last_success_at) or t('never') }}</span>{% endfor %}</p>
<div class="scroll"><table><thead><tr><th>{{ t('source') }}</th><th>{{ t('stream') }}</th><th>{{ t('last_run') }}</th><th>{{ t('status') }}</th><th>{{ t('last_success') }}</th>
<th>{{ t('pulled') }}</th><th>{{ t('loaded') }}</th><th>{{ t('rejected') }}</th><th>{{ t('error') }}</th></tr></thead><tbody>
{% for r in runs %}<tr><td>{{ r.source }}</td><td>{{ r.stream }}</td><td>{{ when(r.started_at) }}</td><td>{{ r.status }}</td><td>{{ when(r.last_success_at) }}</td>
<td class="num">{{ r.pulled }}</td><td class="num">{{ r.loaded }}</td><td class="num">{{ r.rejected }}</td><td>{{ r.error or '' }}</td></tr>{% endfor %}
</tbody></table></div>
<h2>{{ t('open_rejects') }}</h2><div class="scroll"><table><thead><tr><th>{{ t('source') }}</th><th>{{ t('stream') }}</th><th>{{ t('when') }}</th><th>{{ t('reason') }}</th></tr></thead><tbody>
{% for r in rejects %}<tr><td>{{ r.source }}</td><td>{{ r.stream }}</td><td>{{ when(r.created_at) }}</td><td>{{ r.reason }}</td></tr>{% endfor %}</tbody></table></div>
{% endblock %}"""

_AUDIT = """{% extends "base.html" %}{% block main %}<h1>{{ t('audit') }}</h1>
<div class="scroll"><table><thead><tr><th>{{ t('when') }}</th><th>{{ t('actor') }}</th><th>{{ t('action') }}</th><th>{{ t('target') }}</th><th>{{ t('from') }}</th><th>{{ t('detail') }}</th></tr></thead><tbody>
{% for r in entries %}<tr><td>{{ when(r.at) }}</td><td>{{ r.actor }}</td><td>{{ r.action }}</td><td>{{ r.target }}</td><td>{{ r.remote_addr or '' }}</td><td>{{ r.detail or '' }}</td></tr>{% endfor %}
</tbody></table></div>{% endblock %}"""


def environment() -> Environment:
    return Environment(
        loader=DictLoader(
            {
                "base.html": _BASE,
                "login.html": _LOGIN,
                "badges.html": _BADGES,
                "stock.html": _STOCK,
                "drill.html": _DRILL,
                "detail.html": _DETAIL,
                "health.html": _HEALTH,
                "audit.html": _AUDIT,
            }
        ),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
