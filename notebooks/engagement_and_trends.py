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
# # Engagement and trends
#
# Who is active (daily, weekly, monthly), how sign-up cohorts retain, which categories are
# growing, and how events convert from views to attendance. Reads only `marts.*`, as the
# read-only `analyst` role, on the database `DATABASE_URL` names (through the platform settings;
# `ANALYST_PASSWORD` if the role has one); every section copes with empty marts.

# %%
import matplotlib.pyplot as plt
import pandas as pd
import psycopg

from core.settings import get_settings

DATABASE_URL = get_settings().analyst_database_url
TOP_CATEGORIES = 6
TOP_EVENTS = 10


def query(sql: str, params: tuple = ()) -> pd.DataFrame:
    """Run a query on the marts and return its rows as a DataFrame."""
    with psycopg.connect(DATABASE_URL) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        columns = [column.name for column in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=columns)


# %% [markdown]
# ## Daily, weekly and monthly active users

# %%
engagement = query(
    "select activity_date, dau, wau, mau, dau_mau_ratio, new_users"
    " from marts.mart_user_engagement order by activity_date"
)
if engagement.empty:
    print("No interactions yet: mart_user_engagement is empty.")
else:
    engagement["activity_date"] = pd.to_datetime(engagement["activity_date"])
    fig, (active_ax, ratio_ax) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for column in ("dau", "wau", "mau"):
        active_ax.plot(engagement["activity_date"], engagement[column], label=column.upper())
    active_ax.set_ylabel("active users")
    active_ax.legend()
    ratio_ax.plot(engagement["activity_date"], engagement["dau_mau_ratio"].astype(float))
    ratio_ax.set_ylabel("DAU / MAU")
    fig.suptitle("Active users")
    fig.tight_layout()
    plt.show()
    print(engagement.tail(7).to_string(index=False))

# %% [markdown]
# ## Retention by weekly sign-up cohort

# %%
# Only complete weeks: the latest week of each cohort is still partial and would read low.
retention = query(
    "select cohort_week, weeks_since_signup, cohort_size, retention_rate"
    " from marts.mart_user_retention where is_complete"
    " order by cohort_week, weeks_since_signup"
)
if retention.empty:
    print("No cohorts with activity yet: mart_user_retention is empty.")
else:
    matrix = retention.pivot(
        index="cohort_week", columns="weeks_since_signup", values="retention_rate"
    ).astype(float)
    fig, ax = plt.subplots(figsize=(10, max(3, 0.35 * len(matrix))))
    image = ax.imshow(matrix.to_numpy(), aspect="auto", cmap="viridis", vmin=0, vmax=1)
    ax.set_yticks(range(len(matrix)), [str(week) for week in matrix.index])
    ax.set_xlabel("weeks since sign-up")
    ax.set_ylabel("sign-up week")
    fig.colorbar(image, ax=ax, label="share of cohort active")
    ax.set_title("Retention by sign-up cohort")
    fig.tight_layout()
    plt.show()

# %% [markdown]
# ## Category trends (interactions over a trailing 7 days)

# %%
trends = query(
    "select category, activity_date, interactions, interactions_trailing_7d, active_users"
    " from marts.mart_category_trends_daily order by activity_date"
)
if trends.empty:
    print("No interactions yet: mart_category_trends_daily is empty.")
else:
    trends["activity_date"] = pd.to_datetime(trends["activity_date"])
    leaders = (
        trends.groupby("category")["interactions"].sum().nlargest(TOP_CATEGORIES).index.tolist()
    )
    fig, ax = plt.subplots(figsize=(10, 4))
    for category in leaders:
        series = trends[trends["category"] == category]
        ax.plot(series["activity_date"], series["interactions_trailing_7d"], label=category)
    ax.set_ylabel("interactions, trailing 7 days")
    ax.set_title(f"Top {len(leaders)} categories")
    ax.legend()
    fig.tight_layout()
    plt.show()

# %% [markdown]
# ## Funnel of the most viewed events

# %%
funnel = query(
    "select event_id, title, viewers, clickers, registrants, attendees, fill_rate"
    " from marts.mart_event_funnel where viewers > 0"
    " order by viewers desc, event_id limit %s",
    (TOP_EVENTS,),
)
if funnel.empty:
    print("No event has been viewed yet: the funnel is empty.")
else:
    stages = ["viewers", "clickers", "registrants", "attendees"]
    totals = funnel[stages].sum()
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(stages, totals.to_numpy())
    for position, value in enumerate(totals):
        ax.annotate(f"{value:,}", (position, value), ha="center", va="bottom")
    ax.set_title(f"Funnel over the {len(funnel)} most viewed events")
    fig.tight_layout()
    plt.show()
    print(funnel.to_string(index=False))

# %% [markdown]
# ## Organizers

# %%
organizers = query(
    "select organizer_id, events_total, events_upcoming, total_capacity, seats_taken, fill_rate,"
    " distinct_users_reached from marts.mart_organizer_performance"
    " order by distinct_users_reached desc, organizer_id limit 10"
)
print(organizers.to_string(index=False) if not organizers.empty else "No organizers yet.")
