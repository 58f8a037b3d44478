"""Reference data for contracts and the synthetic world: Xiaoshan towns/streets, prepaid-relevant industries."""

from __future__ import annotations

XIAOSHAN_DIVISION = "330109"

TOWNS: tuple[str, ...] = (
    "城厢街道",
    "北干街道",
    "蜀山街道",
    "新塘街道",
    "宁围街道",
    "新街街道",
    "闻堰街道",
    "瓜沥镇",
    "衙前镇",
    "益农镇",
    "党湾镇",
    "临浦镇",
    "义桥镇",
    "所前镇",
    "楼塔镇",
    "河上镇",
    "戴村镇",
    "进化镇",
    "浦阳镇",
)

# GB/T 4754-2017 industry code -> (sector key, Chinese industry name). Sectors group industries for peer comparison.
INDUSTRIES: dict[str, tuple[str, str]] = {
    "8391": ("education_training", "职业技能培训"),
    "8392": ("education_training", "体校及体育培训"),
    "8393": ("education_training", "文化艺术培训"),
    "8399": ("education_training", "其他未列明教育"),
    "8310": ("early_education", "学前教育"),
    "8930": ("fitness", "健身休闲活动"),
    "8040": ("beauty", "理发及美容服务"),
    "8051": ("bath_massage", "洗浴服务"),
    "8052": ("bath_massage", "足浴服务"),
    "8060": ("beauty", "保健服务"),
    "6210": ("catering", "正餐服务"),
    "6220": ("catering", "快餐服务"),
    "6241": ("catering", "茶馆服务"),
    "8111": ("car_wash", "汽车修理与维护"),
    "8514": ("elderly_care", "老年人、残疾人养护服务"),
    "5261": ("retail", "百货零售"),
    "5292": ("retail", "其他综合零售"),
    "8021": ("laundry", "洗染服务"),
}

SECTORS: tuple[str, ...] = tuple(sorted({sector for sector, _ in INDUSTRIES.values()}))

SECTOR_LABELS: dict[str, str] = {
    "education_training": "教育培训",
    "early_education": "早教托育",
    "fitness": "健身",
    "beauty": "美容美发",
    "bath_massage": "洗浴足浴",
    "catering": "餐饮",
    "car_wash": "洗车养护",
    "elderly_care": "养老服务",
    "retail": "零售",
    "laundry": "洗染",
}

ENTERPRISE_STATUSES: tuple[str, ...] = ("active", "deregistered", "revoked")
COMPLAINT_CHANNELS: tuple[str, ...] = ("12315", "12345")
COMPLAINT_CATEGORIES: dict[str, str] = {
    "refund_refusal": "退费难",
    "closure_absconding": "跑路/闭店",
    "service_decline": "服务质量下降",
    "false_advertising": "虚假宣传",
    "contract_dispute": "合同纠纷",
    "other": "其他",
}
TRANSACTION_KINDS: dict[str, str] = {
    "sale": "售卡",
    "recharge": "充值",
    "redemption": "消费核销",
    "refund": "退款",
}
ABNORMAL_REASONS: dict[str, str] = {
    "unreachable_address": "通过登记的住所或者经营场所无法联系",
    "annual_report_missing": "未按规定期限公示年度报告",
    "false_information": "公示企业信息隐瞒真实情况、弄虚作假",
    "no_response": "未在责令的期限内公示有关企业信息",
}
CLOSURE_KINDS: dict[str, str] = {
    "absconding": "跑路",
    "closure": "闭店停业",
    "deregistration": "注销",
}
