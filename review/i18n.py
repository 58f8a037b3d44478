"""Interface text, Chinese first with English available (`?lang=en` or the language cookie)."""

from __future__ import annotations

from collections.abc import Callable

LANGS = ("zh", "en")
LANG_COOKIE = "rg_lang"

TEXT: dict[str, tuple[str, str]] = {
    "app": ("风险预警研判平台", "Risk warning review"),
    "home": ("首页", "Home"),
    "lists": ("预警名单", "Warning lists"),
    "kpis": ("闭环成效", "Closed-loop KPIs"),
    "audit": ("审计日志", "Audit log"),
    "models": ("模型", "Models"),
    "users": ("用户管理", "Users"),
    "login": ("登录", "Sign in"),
    "logout": ("退出", "Sign out"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "login_failed": ("用户名或密码错误，或账户已停用。", "Wrong username or password, or the account is inactive."),
    "login_throttled": ("失败次数过多，请稍后再试。", "Too many failed attempts; try again later."),
    "ai_notice": (
        "AI 辅助预警：名单由模型自动生成，仅供研判参考；采取任何执法或处置措施前，须经工作人员研判并记录处置意见。",
        "AI-assisted warnings: a human decision must be recorded before any enforcement action.",
    ),
    "theme": ("预警主题", "Theme"),
    "as_of": ("业务日期", "Business date"),
    "visible": ("预警数", "Warnings"),
    "pending": ("待研判", "Pending"),
    "active": ("处置中", "In progress"),
    "decided": ("已研判", "Decided"),
    "open": ("打开", "Open"),
    "rank": ("排名", "Rank"),
    "tier": ("等级", "Tier"),
    "status": ("名单状态", "List status"),
    "name": ("名称", "Name"),
    "entity_id": ("主体编号", "Entity id"),
    "town": ("镇街", "Town"),
    "group": ("行业/类型", "Sector"),
    "probability": ("风险概率", "Probability"),
    "disposition": ("研判状态", "Disposition"),
    "assignee": ("承办人", "Assignee"),
    "due_date": ("办理期限", "Due date"),
    "reasons": ("主要原因", "Main reasons"),
    "triggers": ("规则触发", "Rule triggers"),
    "all": ("全部", "All"),
    "search": ("名称或编号", "Name or id"),
    "filter": ("筛选", "Filter"),
    "reset": ("重置", "Reset"),
    "export_csv": ("导出 CSV", "Export CSV"),
    "rows_found": ("共 {n} 条", "{n} rows"),
    "page_of": ("第 {page} / {pages} 页", "Page {page} of {pages}"),
    "prev": ("上一页", "Previous"),
    "next": ("下一页", "Next"),
    "sort": ("排序", "Sort"),
    "dossier": ("研判档案", "Dossier"),
    "explanation": ("解释说明", "Explanation"),
    "no_dossier": (
        "本预警无档案文件，以下内容由预警记录生成。",
        "No dossier file; this page is built from the warning.",
    ),
    "model_version": ("模型版本", "Model version"),
    "history": ("处置记录", "History"),
    "no_history": ("尚无处置记录。", "No changes recorded yet."),
    "record": ("记录处置", "Record a step"),
    "new_status": ("新状态", "New status"),
    "notes": ("处置意见", "Notes"),
    "evidence": ("佐证材料", "Evidence"),
    "save": ("保存", "Save"),
    "assign": ("分派", "Assign"),
    "reopen": ("重新打开（主管）", "Reopen (supervisor)"),
    "saved": ("已保存。", "Saved."),
    "read_only": ("只读：当前角色不能修改处置状态。", "Read-only: your role cannot change dispositions."),
    "final_state": ("已作出研判结论。", "A decision has been recorded."),
    "actor": ("操作人", "By"),
    "at": ("时间", "At"),
    "step": ("步骤", "Step"),
    "forbidden": ("无权访问", "Forbidden"),
    "forbidden_text": ("当前账户无权访问该页面或数据。", "Your account may not open this page or these data."),
    "not_found": ("未找到", "Not found"),
    "not_found_text": ("请求的内容不存在。", "What you asked for does not exist."),
    "bad_request": ("请求无效", "Bad request"),
    "pushed": ("推送预警", "Warnings pushed"),
    "researched": ("完成研判", "Researched"),
    "confirmed": ("确认风险", "Confirmed risk"),
    "excluded": ("已排除", "Excluded"),
    "confirmation_rate": ("确认率", "Confirmation rate"),
    "median_days": ("处置用时中位数", "Median days to disposal"),
    "days": ("天", "days"),
    "in_progress": ("处置中", "In progress"),
    "by_sector": ("按行业分布", "By sector"),
    "by_sector_time": ("各行业预警数量变化", "Warnings by sector over time"),
    "all_themes": ("全部主题", "All themes"),
    "verify_ok": (
        "校验通过：哈希链、签名和每日链头均完整。",
        "Verified: hash chain, signatures and daily heads intact.",
    ),
    "verify_bad": ("校验失败：审计日志被篡改。", "Verification FAILED: the audit log has been tampered with."),
    "events": ("事件", "events"),
    "action": ("动作", "Action"),
    "object": ("对象", "Object"),
    "details": ("详情", "Details"),
    "role": ("角色", "Role"),
    "towns": ("负责镇街", "Towns"),
    "active_user": ("启用", "Active"),
    "add_user": ("新增用户", "Add user"),
    "update": ("更新", "Update"),
    "new_password": ("新密码（可选）", "New password (optional)"),
    "towns_hint": ("多个镇街用逗号分隔", "Separate towns with commas"),
    "manifest": ("运行清单", "Run manifest"),
    "spec_hash": ("规格哈希", "Spec hash"),
    "code_version": ("代码版本", "Code version"),
    "listed": ("入选预警", "Listed"),
    "precision_by_tier": ("各等级研判确认情况", "Research results by tier"),
    "dossier_link": ("查看研判档案", "Open the dossier"),
    "explain_intro": (
        "以下为该主体被预警的依据：模型贡献最大的因素与规则触发，均来自预警记录；最终结论以工作人员研判为准。",
        "Why this entity was warned: the model's largest contributions and rule triggers, from the warning record; "
        "staff research decides.",
    ),
}


def translator(lang: str) -> Callable[..., str]:
    """`t(key, **values)` for one language; an unknown key shows itself (visible, never a crash)."""
    index = 1 if lang == "en" else 0

    def t(key: str, **values: object) -> str:
        pair = TEXT.get(key)
        text = pair[index] if pair else key
        return text.format(**values) if values else text

    return t
