"""Identifiers and names: credit codes, resident ID numbers, person and company names, grid cell ids.

Check characters come from `features.uscc` (the same functions validation uses), so a generated code can never
disagree with the validator.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from features.reference import TOWNS, XIAOSHAN_DIVISION
from features.synthetic.profiles import INDUSTRY_CODES, grid_cells_per_town
from features.uscc import USCC_ALPHABET, id_check_char, uscc_check_char

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔汤楼俞来傅施闻"
)
GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚英华飞玲红建国文斌辉鹏林浩宇婷雪琳晨阳欣怡佳俊凯鑫波峰琴云莉"
    "海燕萍亮春梅兰凤洁志新宏东晓丹晶慧颖翔天博瑞泽睿子涵思嘉雨萱梓轩一诺浙杭钱江越"
)
# 字号 (trade names): two-character words common in Xiaoshan shop names.
_TRADE_WORDS = (
    "启航 博雅 新程 星辰 卓越 华美 金色 阳光 锦绣 东方 瑞丰 恒信 嘉禾 德馨 悦享 优客 明德 致远 睿思 乐学 "
    "青禾 朗悦 知行 尚品 艺林 雅韵 智慧 未来 蓝海 天成 鸿运 兴旺 同心 益善 康宁 颐和 福瑞 美辰 丽人 伊人 "
    "名媛 简约 时光 花语 初见 悦美 逸品 盛世 湘湖 钱塘 越韵 江南 西子 萧然 湘悦 潮鸣 浦阳 临湖 云帆 乐动 "
    "力健 劲道 动感 活力 优体 燃点 顶峰 飞跃 奔腾 童趣 小树 彩虹 贝乐 蒲公英 小太阳 书香 墨韵 琴韵 舞韵 "
    "味道 老街 好味 鲜香 食尚 家和 福满 聚福 百味 一品 清风 水润 净然 洁美 车之家 途安 驰远 安康 颐年 "
    "夕阳红 万家 惠民 佳佳 好邻居 恒通 宏达 新源 永盛 泰和 华腾 中盛 凯旋 汇丰 金鼎 银河 宝岛 壹号 初心"
)
TRADE_NAMES: tuple[str, ...] = tuple(_TRADE_WORDS.split())
# Characters common in trade names; pairs and triples of them make most 字号 (瑞轩, 鑫盛达).
NAME_CHARS = (
    "安邦宝贝碧博灿昌辰成诚驰创淳聪达丹道德迪鼎东朵恩帆方飞丰峰锋福富港高歌格冠光广贵国海瀚翰航豪好浩禾合和恒弘宏"
    "泓鸿华桦欢辉徽惠慧佳嘉建健江杰金锦晋京晶景菁久聚君俊凯康科坤澜朗乐力立丽利励良亮林琳霖灵领龙隆鲁禄伦洛美萌盟"
    "米妙敏明铭沐楠宁诺鹏品平朴奇琪麒启谦乾勤青清擎庆秋全泉群然仁荣容融瑞睿润森善尚圣盛诗石仕世硕思松泰腾天通同彤"
    "拓万旺威维伟卫文沃希熙祥翔潇晓欣新鑫信星兴雄秀旭轩宣雅亚焱阳扬耀伊依怡亿益逸毅翊意英盈颖永优佑宇雨语玉裕元源"
    "远悦越云韵泽哲臻振正知志致智中众洲卓梓紫尊"
)
INDUSTRY_WORDS: dict[str, tuple[str, ...]] = {
    "8391": ("职业技能培训", "教育培训"), "8392": ("体育发展", "体育文化"), "8393": ("文化艺术", "艺术培训"),
    "8399": ("教育科技", "教育咨询"), "8310": ("幼儿托育", "早教服务"), "8930": ("健身服务", "体育健身"),
    "8040": ("美容美发", "美业"), "8051": ("洗浴服务", "沐浴"), "8052": ("足浴", "养生"),
    "8060": ("健康管理", "养生保健"), "6210": ("餐饮管理", "餐饮"), "6220": ("餐饮管理", "快餐"),
    "6241": ("茶业", "茶馆"), "8111": ("汽车服务", "汽车维修"), "8514": ("养老服务", "康养"),
    "5261": ("商贸", "百货"), "5292": ("商贸", "超市"), "8021": ("洗涤服务", "干洗"),
}  # fmt: skip
SHOP_WORDS: dict[str, str] = {
    "8391": "培训中心", "8392": "体育馆", "8393": "艺术工作室", "8399": "教育工作室", "8310": "托育园",
    "8930": "健身馆", "8040": "美容美发店", "8051": "浴室", "8052": "足浴店", "8060": "养生馆", "6210": "饭店",
    "6220": "小吃店", "6241": "茶馆", "8111": "汽车美容店", "8514": "养老服务站", "5261": "百货店",
    "5292": "便利店", "8021": "干洗店",
}  # fmt: skip
HANGZHOU_DIVISIONS = (
    "330102", "330105", "330106", "330108", "330109", "330110", "330111", "330112", "330113", "330114",
    "330122", "330127", "330182",
)  # fmt: skip
# Other provinces' county codes (Anhui, Jiangxi, Henan, Hubei, Hunan, Sichuan, Guizhou, Guangxi, Chongqing, ...).
OTHER_DIVISIONS = (
    "340102", "341202", "341221", "342401", "360102", "362201", "361102", "410102", "411302", "412702",
    "420102", "421002", "430102", "431102", "510104", "511302", "522401", "520102", "450102", "500101",
    "530102", "620102", "370102", "320102", "350102", "440103", "130102", "610102",
)  # fmt: skip
_ALPHABET = np.frombuffer(USCC_ALPHABET.encode(), dtype=np.uint8)


def credit_codes(gidx: np.ndarray, etype: np.ndarray, reg_year: np.ndarray, seed: int) -> np.ndarray:
    """Unique valid credit codes for Xiaoshan (division 330109), one per global firm number.

    Codes issued since 2016 carry the `MA` organisation-code prefix; older companies keep a 9-digit organisation
    code. An affine bijection of the firm number keeps codes unique across chunks without coordination.

    Args:
        gidx: global firm numbers (unique within a world).
        etype: entity type 0/1/2 -> second character 1/2/3.
        reg_year: registration year.
        seed: world seed (changes the bijection).

    Returns:
        Object array of 18-character codes.
    """
    rng = np.random.default_rng([seed, 77])
    new_style = (etype != 0) | (reg_year >= 2016)
    n_ma, n_num = 31**7, 10**9
    a_ma = 31 * int(rng.integers(10**6, 10**8)) + 1  # not a multiple of 31: a bijection mod 31^7
    a_num = 10 * int(rng.integers(10**6, 10**7)) + 3  # coprime with 10: a bijection mod 10^9
    ma = (a_ma * gidx + int(rng.integers(0, n_ma))) % n_ma
    num = (a_num * gidx + int(rng.integers(0, n_num))) % n_num
    chars = np.empty((len(gidx), 17), np.uint8)
    chars[:, 0] = ord("9")
    chars[:, 1] = ord("1") + etype
    chars[:, 2:8] = np.frombuffer(XIAOSHAN_DIVISION.encode(), np.uint8)
    for pos in range(9):
        ma_char = np.where(pos == 0, ord("M"), np.where(pos == 1, ord("A"), _ALPHABET[(ma // 31 ** (8 - pos)) % 31]))
        num_char = ord("0") + (num // 10 ** (8 - pos)) % 10
        chars[:, 8 + pos] = np.where(new_style, ma_char, num_char)
    bodies = chars.view("S17").ravel().astype(str)
    return np.array([b + uscc_check_char(b) for b in bodies], dtype=object)


def id_numbers(rng: np.random.Generator, local: np.ndarray, age: np.ndarray, valid_from: np.ndarray) -> np.ndarray:
    """Valid resident ID numbers whose birth date gives exactly `age` on day `valid_from`.

    Args:
        rng: random generator.
        local: Hangzhou household registration (division 3301xx) or another province.
        age: age in whole years on `valid_from`.
        valid_from: day numbers.

    Returns:
        Object array of 18-character ID numbers.
    """
    n = len(local)
    division = np.where(
        local,
        np.array(HANGZHOU_DIVISIONS)[rng.integers(0, len(HANGZHOU_DIVISIONS), n)],
        np.array(OTHER_DIVISIONS)[rng.integers(0, len(OTHER_DIVISIONS), n)],
    )
    when = valid_from.astype("datetime64[D]")
    year = when.astype("datetime64[Y]").astype(np.int64) + 1970
    month = when.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (when - when.astype("datetime64[M]")).astype(np.int64) + 1
    b_month, b_day = rng.integers(1, 13, n), rng.integers(1, 29, n)
    # Not yet had this year's birthday on valid_from -> born one year earlier.
    later = (b_month > month) | ((b_month == month) & (b_day > day))
    b_year = year - age - later
    digits = np.empty((n, 17), np.uint8)
    digits[:, :6] = division.astype("S6").view(np.uint8).reshape(n, 6)
    for pos, (value, width) in enumerate(((b_year, 4), (b_month, 2), (b_day, 2), (rng.integers(1, 1000, n), 3))):
        first = 6 + sum((4, 2, 2)[:pos])
        for k in range(width):
            digits[:, first + k] = ord("0") + (value // 10 ** (width - 1 - k)) % 10
    bodies = digits.view("S17").ravel().astype(str)
    return np.array([b + id_check_char(b) for b in bodies], dtype=object)


def person_names(rng: np.random.Generator, n: int) -> pl.Series:
    """Chinese personal names: a common surname and one or two given-name characters."""
    first = np.floor(rng.random(n) ** 1.6 * len(SURNAMES)).astype(np.int64)  # common surnames first
    second = rng.integers(0, len(GIVEN_CHARS), n)
    third = np.where(rng.random(n) < 0.7, rng.integers(0, len(GIVEN_CHARS), n), len(GIVEN_CHARS))
    given = [*GIVEN_CHARS, ""]  # the extra empty entry makes one-character given names
    name = pl.concat_str(_take(SURNAMES, first), _take(GIVEN_CHARS, second), _take(given, third))
    return pl.select(name.alias("rep_name")).to_series()


def _affine(gidx: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """An affine bijection of firm numbers onto [0, size): distinct numbers below `size` never collide."""
    a = int(rng.integers(size // 3, size)) | 1
    while math.gcd(a, size) != 1:
        a += 2
    return (a * gidx + int(rng.integers(0, size))) % size


def _take(values: tuple[str, ...] | list[str] | str, idx: np.ndarray) -> pl.Expr:
    """values[idx] as a String expression (polars concatenates strings far faster than object arrays)."""
    return pl.lit(pl.Series(list(values), dtype=pl.String).gather(idx))


def trade_names(gidx: np.ndarray, seed: int) -> tuple[pl.Expr, np.ndarray]:
    """字号 (trade names) that are practically unique per firm, and a variant digit 0-3 per firm.

    Half the firms get a two-character name (a word such as 启航, or a pair of name characters such as 瑞轩), half
    a three-character one (such as 鑫盛达). Within each class an affine bijection of the firm number picks the
    (name, variant) pair, so two firms share both only when their numbers differ by a multiple of the class size.

    Returns:
        (trade name expression, variant digit array).
    """
    rng = np.random.default_rng([seed, 78])
    k, n_words = len(NAME_CHARS), len(TRADE_NAMES)
    three = rng.random(len(gidx)) < 0.5
    pick = np.where(three, _affine(gidx, k**3 * 4, rng), _affine(gidx, (n_words + k * k) * 4, rng))
    z, variant = pick // 4, pick % 4
    pair = np.maximum(z - n_words, 0)
    first = np.where(three, z // (k * k) % k, pair // k % k)
    second = np.where(three, z // k % k, pair % k)
    chars = pl.concat_str(_take(NAME_CHARS, first), _take(NAME_CHARS, second))
    chars = pl.when(pl.lit(pl.Series(three))).then(pl.concat_str(chars, _take(NAME_CHARS, z % k))).otherwise(chars)
    is_word = pl.lit(pl.Series(~three & (z < n_words)))
    return pl.when(is_word).then(_take(TRADE_NAMES, np.minimum(z, n_words - 1))).otherwise(chars), variant


def company_names(
    rng: np.random.Generator, gidx: np.ndarray, industry: np.ndarray, etype: np.ndarray, town: np.ndarray, seed: int
) -> pl.Series:
    """Registered names such as 杭州萧山启航教育培训有限公司, 杭州鑫盛达餐饮管理有限公司 or 萧山区城厢瑞轩美容美发店.

    Args:
        rng: random generator (legal form only).
        gidx: global firm numbers (they pick the trade name, see `trade_names`).
        industry: index into INDUSTRY_CODES.
        etype: 0 company, 1 sole trader, 2 cooperative.
        town: index into TOWNS.
        seed: world seed.

    Returns:
        A String series of names.
    """
    trade, variant = trade_names(gidx, seed)
    words = [INDUSTRY_WORDS[c][k] for c in INDUSTRY_CODES for k in range(2)]
    towns = [t.removesuffix("街道").removesuffix("镇") for t in TOWNS]
    place = _take(("杭州萧山", "杭州"), variant // 2)
    form = _take(("有限公司", "有限责任公司"), (rng.random(len(gidx)) >= 0.85).astype(np.int64))
    company = pl.concat_str(place, trade, _take(words, industry * 2 + variant % 2), form)
    sole = pl.concat_str(
        pl.lit("萧山区"), _take(towns, town), trade, _take([SHOP_WORDS[c] for c in INDUSTRY_CODES], industry)
    )
    coop = pl.concat_str(pl.lit("杭州萧山"), trade, pl.lit("果蔬专业合作社"))
    kind = pl.lit(pl.Series(etype))
    name = pl.when(kind == 0).then(company).when(kind == 1).then(sole).otherwise(coop)
    return pl.select(name.alias("name")).to_series()


def grid_cell_ids(town: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Grid cell ids like 330109-07-0123 (town number, then cell number within the town)."""
    per_town = grid_cells_per_town()
    all_ids = np.array(
        [f"{XIAOSHAN_DIVISION}-{t + 1:02d}-{c:04d}" for t, k in enumerate(per_town) for c in range(1, k + 1)],
        dtype=object,
    )
    offsets = np.concatenate([[0], np.cumsum(per_town)[:-1]])
    return all_ids[offsets[town] + cell - 1]
