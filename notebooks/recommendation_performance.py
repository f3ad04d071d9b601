# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Recommendation performance by model version
#
# How each model version's recommendations convert: impressions → clicks → registrations, over
# distinct (user, event) pairs, from the serving feedback and the interactions whose source is
# `recommendation`. Reads only `marts.*`, as the read-only `analyst` role, on the database
# `DATABASE_URL` names (through the platform settings; `ANALYST_PASSWORD` if the role has one).
# Copes with a platform that has served no recommendations yet.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import psycopg

from core.settings import get_settings

DATABASE_URL = get_settings().analyst_database_url


def query(sql: str, params: tuple = ()) -> pd.DataFrame:
    """Run a query on the marts and return its rows as a DataFrame."""
    with psycopg.connect(DATABASE_URL) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        columns = [column.name for column in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=columns)


# %% [markdown]
# ## Funnel per model version

# %%
performance = query(
    "select model_version, impressions, impressed_pairs, clicked_pairs, registered_pairs,"
    " impressed_clicked_pairs, impressed_registered_pairs, users_reached,"
    " click_through_rate, registration_rate, click_to_register_rate,"
    " mean_clicked_position, first_seen_at, last_seen_at"
    " from marts.mart_recommendation_performance order by first_seen_at, model_version"
)
if performance.empty:
    print("No recommendation has been shown yet: mart_recommendation_performance is empty.")
else:
    print(performance.to_string(index=False))

# %%
if not performance.empty:
    stages = {
        "impressed_pairs": "shown",
        "impressed_clicked_pairs": "clicked",
        "impressed_registered_pairs": "registered",
    }
    positions = np.arange(len(performance))
    width = 0.8 / len(stages)
    fig, (count_ax, rate_ax) = plt.subplots(1, 2, figsize=(12, 4))
    for offset, (stage, label) in enumerate(stages.items()):
        count_ax.bar(
            positions + offset * width,
            performance[stage].astype(float),
            width,
            label=label,
        )
    count_ax.set_xticks(positions + width, performance["model_version"], rotation=30, ha="right")
    count_ax.set_yscale("symlog")
    count_ax.set_title("(user, event) pairs per stage")
    count_ax.legend()
    rates = performance[["click_through_rate", "registration_rate"]].astype(float).fillna(0)
    rate_ax.bar(positions - 0.2, rates["click_through_rate"], 0.4, label="click-through")
    rate_ax.bar(positions + 0.2, rates["registration_rate"], 0.4, label="registration")
    rate_ax.set_xticks(positions, performance["model_version"], rotation=30, ha="right")
    rate_ax.set_title("Conversion of impressions")
    rate_ax.legend()
    fig.tight_layout()
    plt.show()

# %% [markdown]
# ## Model versions compared
#
# Each version's click-through rate over the pairs it showed, with a 95 % Wilson interval, and
# its lift over the first version served: a version is better only where the intervals part.
# Clicks whose client named no version (`unknown`) have no impressions and are left out.

# %%
served = performance[performance["impressed_pairs"] > 0].reset_index(drop=True)
if served.empty:
    print("No impressions logged yet: nothing to compare.")
else:
    shown = served["impressed_pairs"].astype(float)
    clicked = served["impressed_clicked_pairs"].astype(float)
    z = 1.96
    rate = clicked / shown.replace(0, np.nan)
    centre = (rate + z**2 / (2 * shown)) / (1 + z**2 / shown)
    half = z * np.sqrt(rate * (1 - rate) / shown + z**2 / (4 * shown**2)) / (1 + z**2 / shown)
    comparison = pd.DataFrame(
        {
            "model_version": served["model_version"],
            "pairs_shown": shown.astype(int),
            "click_through_rate": rate.round(4),
            "ctr_low_95": (centre - half).round(4),
            "ctr_high_95": (centre + half).round(4),
            "lift_vs_first": (rate / rate.iloc[0] - 1).round(3),
        }
    )
    print(comparison.to_string(index=False))
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.errorbar(
        comparison["model_version"],
        comparison["click_through_rate"],
        yerr=[rate - (centre - half), (centre + half) - rate],
        fmt="o",
        capsize=6,
    )
    ax.set_ylabel("click-through rate (95 % interval)")
    ax.set_title("Click-through rate per model version")
    fig.tight_layout()
    plt.show()

# %% [markdown]
# ## Daily click-through rate per model version

# %%
daily = query(
    "select model_version, occurred_date,"
    " count(*) filter (where action = 'impression') as impressions,"
    " count(*) filter (where action = 'click') as clicks"
    " from marts.fct_recommendation_feedback"
    " group by model_version, occurred_date order by occurred_date"
)
if daily.empty:
    print("No recommendation feedback yet.")
else:
    daily["occurred_date"] = pd.to_datetime(daily["occurred_date"])
    daily["ctr"] = daily["clicks"] / daily["impressions"].replace(0, np.nan)
    fig, ax = plt.subplots(figsize=(10, 4))
    for version, series in daily.groupby("model_version"):
        ax.plot(series["occurred_date"], series["ctr"], marker="o", label=version)
    ax.set_ylabel("clicks / impressions")
    ax.set_title("Daily click-through rate (feedback)")
    ax.legend()
    fig.tight_layout()
    plt.show()

# %% [markdown]
# ## Click-through rate by position in the list

# %%
by_position = query(
    "select model_version, position,"
    " count(*) filter (where action = 'impression') as impressions,"
    " count(*) filter (where action = 'click') as clicks"
    " from marts.fct_recommendation_feedback where position is not null"
    " group by model_version, position order by model_version, position"
)
if by_position.empty:
    print("No positioned feedback yet.")
else:
    by_position["ctr"] = by_position["clicks"] / by_position["impressions"].replace(0, np.nan)
    fig, ax = plt.subplots(figsize=(10, 4))
    for version, series in by_position.groupby("model_version"):
        ax.plot(series["position"], series["ctr"], marker=".", label=version)
    ax.set_xlabel("position in the list (0 = top)")
    ax.set_ylabel("clicks / impressions")
    ax.set_title("Click-through rate by position")
    ax.legend()
    fig.tight_layout()
    plt.show()
