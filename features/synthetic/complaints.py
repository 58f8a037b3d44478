"""Consumer complaints (12315/12345).

Volume grows with the customer base (so large healthy firms draw many complaints: a confounder), rises weakly with
distress and strongly in exit mode (refund refusals, service decline), and bursts with closure/absconding complaints
from just before closure to a few months after it. Complaints never carry the complainant's identity.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from features.reference import COMPLAINT_CATEGORIES, SECTORS
from features.synthetic.chunk import Chunk, lag_days
from features.synthetic.months import categorical, sigmoid, uniform_days
from features.synthetic.writer import contract_frame

CATEGORY_NAMES: tuple[str, ...] = tuple(COMPLAINT_CATEGORIES)
BASE_RATE = 0.03  # complaints per firm-month at 60 card members
POST_CLOSURE_DECAY = (1.0, 0.6, 0.3, 0.15)
# Category mixes (refund, closure, service, false ads, contract, other) by situation.
MIX_PREPAID = np.array([0.14, 0.01, 0.25, 0.12, 0.18, 0.30])
MIX_OTHER = np.array([0.05, 0.005, 0.30, 0.15, 0.15, 0.345])
MIX_EXIT = np.array([0.45, 0.08, 0.25, 0.07, 0.10, 0.05])
MIX_CLOSED = np.array([0.35, 0.55, 0.03, 0.0, 0.05, 0.02])
TEXTS: dict[str, tuple[str, ...]] = {
    "refund_refusal": ("消费者反映预付卡申请退费，商家以各种理由拒绝退款", "会员卡剩余次数申请退费被拒",
                       "商家承诺可随时退款，现拒不履行"),
    "closure_absconding": ("商家突然关门停业，预付卡余额无法使用", "门店人去楼空，联系不上负责人",
                           "店铺停业未提前告知，消费者要求退还余额"),
    "service_decline": ("服务质量明显下降，课程或项目频繁取消", "更换人员后服务缩水，预约困难",
                        "店内设施长期未维修，服务与承诺不符"),
    "false_advertising": ("宣传的优惠活动与实际不符", "办卡时承诺的赠送项目未兑现", "广告宣传夸大效果"),
    "contract_dispute": ("对预付卡合同条款有异议", "商家单方面变更合同内容", "门店转让后新经营者不认旧卡"),
    "other": ("对商家经营行为有疑问，要求核查", "消费纠纷，要求协调处理", "其他消费问题咨询"),
}  # fmt: skip


def _operating_cells(rng: np.random.Generator, chunk: Chunk) -> tuple[np.ndarray, ...]:
    """Complaints while the firm operates: (firm, day, category)."""
    firms, lat, grid = chunk.firms, chunk.latent, chunk.grid
    lo, hi = chunk.cell_bounds()
    size = (firms.members / 60.0) ** 0.8 * np.where(firms.prepaid, 1.0, 0.6)
    surge = 1.0 + np.where(lat.exiting, 3.0 * np.minimum(lat.tenure + 1, 4), 0.0)
    education = np.isin(firms.sector, (SECTORS.index("education_training"), SECTORS.index("early_education")))
    season = np.where(grid.spring_festival, 0.8, 1.0)[None, :] * np.where(
        education[:, None] & np.isin(grid.month, (7, 8, 9))[None, :], 1.3, 1.0
    )
    rate = BASE_RATE * size[:, None] * np.exp(0.6 * np.maximum(lat.distress - 0.5, 0.0)) * surge * season
    counts = rng.poisson(np.where(hi >= lo, rate, 0.0))
    f, m = np.nonzero(counts)
    f, m = np.repeat(f, counts[f, m]), np.repeat(m, counts[f, m])
    day = uniform_days(rng, lo[f, m], hi[f, m])
    # Distress in normal mode tilts the mix a little towards exit-mode complaints (a weak signal).
    w = np.where(lat.exiting[f, m], 1.0, 0.5 * sigmoid(1.5 * (lat.distress[f, m] - 2.5)))
    base = np.where(firms.prepaid[f][:, None], MIX_PREPAID, MIX_OTHER)
    mix = (1 - w)[:, None] * base + w[:, None] * MIX_EXIT
    return f, day, categorical(rng, np.cumsum(mix, axis=1))


def _closure_cells(rng: np.random.Generator, chunk: Chunk) -> tuple[np.ndarray, ...]:
    """The burst of closure/absconding and refund complaints around and after closure: (firm, day, category)."""
    firms, lat, grid = chunk.firms, chunk.latent, chunk.grid
    closer = np.flatnonzero(chunk.closed())
    kind_mult = np.array([3.0, 1.2, 0.3])[lat.close_kind[closer]]
    size = (firms.members[closer] / 60.0) ** 0.8 * np.where(firms.prepaid[closer], 1.0, 0.3) * kind_mult
    firm, day = [], []
    for k, decay in enumerate(POST_CLOSURE_DECAY):
        m = lat.close_month[closer] + k
        ok = m < grid.n
        f, m = closer[ok], m[ok]
        lo = np.maximum(grid.first[m], lat.close_day[f] - 2)
        hi = np.minimum(grid.last[m], grid.end_day)
        n = rng.poisson(1.5 * decay * size[ok] * (hi >= lo))
        f_rows = np.repeat(f, n)
        firm.append(f_rows)
        day.append(uniform_days(rng, np.repeat(lo, n), np.repeat(hi, n)))
    f, d = np.concatenate(firm), np.concatenate(day)
    return f, d, categorical(rng, np.tile(np.cumsum(MIX_CLOSED), (len(f), 1)))


def complaints(rng: np.random.Generator, chunk: Chunk) -> pl.DataFrame:
    """The complaints table of a chunk (clean rows only; see `dirty` for injected errors).

    Returns:
        Rows recorded by the window end, sorted by firm and event date.
    """
    parts = [_operating_cells(rng, chunk), _closure_cells(rng, chunk)]
    firm, day, category = (np.concatenate([p[i] for p in parts]).astype(np.int64) for i in range(3))
    recorded = day + lag_days(rng, len(firm), 0, 30, skew=3.0)
    keep = recorded <= chunk.grid.end_day  # not yet registered at the window end
    sel = np.flatnonzero(keep)[np.lexsort((day[keep], firm[keep]))]
    firm, day, category, recorded = firm[sel], day[sel], category[sel], recorded[sel]
    k = len(firm)
    channel = np.where(rng.random(k) < 0.6, "12315", "12345").astype(object)
    ticket = chunk.firms.ticket[firm]
    with_amount = rng.random(k) < np.array([0.9, 0.8, 0.4, 0.5, 0.85, 0.2])[category]
    amount = np.where(with_amount, np.round(ticket * np.exp(rng.normal(-0.3, 0.6, k)), -1), np.nan)
    texts = np.array([t for c in CATEGORY_NAMES for t in TEXTS[c]], dtype=object)
    frame = contract_frame(
        "complaints",
        {
            "complaint_id": pl.Series(np.zeros(k, np.int64)),  # filled below from channel, date and sequence
            "uscc": chunk.codes.gather(firm),
            "channel": channel,
            "event_at": day,
            "recorded_at": recorded,
            "category": np.array(CATEGORY_NAMES, dtype=object)[category],
            "amount": amount,
            "text": texts[category * 3 + rng.integers(0, 3, k)],
        },
    )
    prefix = pl.when(pl.col("channel") == "12315").then(pl.lit("TS")).otherwise(pl.lit("RX"))
    complaint_id = pl.concat_str(
        prefix, pl.col("recorded_at").dt.strftime("%Y%m%d"), pl.lit(f"-{chunk.index:04d}-"),
        pl.int_range(pl.len()).cast(pl.String).str.zfill(7),
    )  # fmt: skip
    return frame.with_columns(complaint_id.alias("complaint_id"))
