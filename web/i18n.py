"""The page's words in English and Chinese, and which language a request wants.

`?lang=` wins (and is remembered in a cookie), then that cookie, then the
browser's Accept-Language; English when none of them names Chinese.
"""

from __future__ import annotations

from fastapi import Request

__all__ = ["LANGS", "LANG_COOKIE", "Translator", "choose_lang", "translator"]

LANGS = ("en", "zh")
LANG_COOKIE = "sb_lang"

_WORDS: dict[str, tuple[str, str]] = {
    "title": ("Consolidated stock", "合并库存"),
    "health": ("Source health", "数据源状态"),
    "audit": ("Audit log", "审计日志"),
    "login": ("Sign in", "登录"),
    "logout": ("Sign out", "退出"),
    "token": ("API token", "API 令牌"),
    "login_hint": (
        "Paste the token you were given (stockbridge token create).",
        "请粘贴分配给您的令牌（stockbridge token create）。",
    ),
    "login_failed": ("That token is not valid.", "令牌无效。"),
    "search": ("Material code or name", "物料编码或名称"),
    "site": ("Site", "工厂"),
    "warehouse": ("Warehouse", "仓库"),
    "location": ("Location", "库位"),
    "batch": ("Batch", "批次"),
    "status": ("Status", "库存状态"),
    "any": ("any", "全部"),
    "conflicts_only": ("Conflicts only", "仅显示差异"),
    "below_safety": ("Below safety stock", "低于安全库存"),
    "apply": ("Apply", "查询"),
    "material": ("Material", "物料"),
    "name": ("Name", "名称"),
    "quantity": ("Quantity", "数量"),
    "available": ("Available", "可用"),
    "safety_stock": ("Safety stock", "安全库存"),
    "days_of_cover": ("Days of cover", "可用天数"),
    "consumption": ("Issues, last 14 days", "近14天出库"),
    "sources": ("Sources", "数据源"),
    "as_of": ("As of", "截至"),
    "conflict": ("conflict", "差异"),
    "rows": ("rows", "行"),
    "of": ("of", "共"),
    "first": ("First", "首页"),
    "prev": ("Previous", "上一页"),
    "next": ("Next", "下一页"),
    "last": ("Last", "末页"),
    "export_csv": ("Export CSV", "导出 CSV"),
    "export_xlsx": ("Export XLSX", "导出 XLSX"),
    "no_rows": ("No stock matches these filters.", "没有符合条件的库存。"),
    "drilldown": ("Why the systems disagree", "系统差异明细"),
    "per_source": ("Per-source values", "各系统数值"),
    "difference": ("Difference", "差额"),
    "since": ("since", "自"),
    "posted": ("Posted", "过账时间"),
    "note": ("Note", "说明"),
    "unmatched": ("unmatched", "未匹配"),
    "no_movements": (
        "No movements in the window to compare.",
        "时间窗口内没有可比对的出入库记录。",
    ),
    "close": ("Close", "关闭"),
    "chosen": ("chosen", "采用"),
    "source": ("Source", "数据源"),
    "stream": ("Stream", "数据流"),
    "last_run": ("Last run", "最近运行"),
    "last_success": ("Last success", "最近成功"),
    "pulled": ("Pulled", "拉取"),
    "loaded": ("Loaded", "入库"),
    "rejected": ("Rejected", "拒收"),
    "error": ("Error", "错误"),
    "sync_now": ("Sync now", "立即同步"),
    "sync_started": ("Sync started.", "同步已开始。"),
    "sync_busy": ("A sync is already running.", "已有同步在运行。"),
    "retry_rejects": ("Retry rejects", "重试拒收记录"),
    "rejects_retried": ("Rejects retried.", "已重试拒收记录。"),
    "open_rejects": ("Open rejects", "未处理拒收"),
    "reason": ("Reason", "原因"),
    "when": ("When", "时间"),
    "actor": ("Who", "操作人"),
    "action": ("Action", "操作"),
    "target": ("Target", "对象"),
    "from": ("From", "来源地址"),
    "detail": ("Detail", "详情"),
    "fresh": ("fresh", "最新"),
    "stale": ("late", "延迟"),
    "very_stale": ("stale", "过期"),
    "never": ("never synced", "从未同步"),
    "sort": ("Sort", "排序"),
    "language": ("中文", "English"),
}


class Translator:
    """`t("key")` in the chosen language; `lang` for the page's lang attribute."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._index = LANGS.index(lang)

    def __call__(self, key: str) -> str:
        return _WORDS[key][self._index]


def _accepts_chinese(header: str) -> bool:
    """True when Chinese comes before English in Accept-Language (by q-value)."""
    ranked: list[tuple[float, str]] = []
    for part in header.split(","):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((quality, tag.strip().lower()))
    for _quality, tag in sorted(ranked, key=lambda r: -r[0]):
        if tag.startswith("zh"):
            return True
        if tag.startswith("en"):
            return False
    return False


def choose_lang(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked
    remembered = request.cookies.get(LANG_COOKIE)
    if remembered in LANGS:
        return remembered
    return (
        "zh" if _accepts_chinese(request.headers.get("accept-language", "")) else "en"
    )


def translator(request: Request) -> Translator:
    return Translator(choose_lang(request))
