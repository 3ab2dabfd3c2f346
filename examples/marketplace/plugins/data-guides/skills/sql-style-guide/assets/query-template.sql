-- Purpose: <one sentence: the question this query answers>
-- Owner:   <team or person>, <email>
-- Grain:   one row per <entity> per <period>
-- Sources: analytics.<table>, analytics.<table>
-- Notes:   <filters, exclusions and why>

WITH base AS (
    SELECT
        t.entity_id,
        t.created_at
    FROM analytics.some_table AS t
    WHERE t.created_at >= DATE '2026-01-01'
        AND t.created_at < DATE '2026-02-01'
),

aggregated AS (
    SELECT
        b.entity_id,
        COUNT(*) AS row_count
    FROM base AS b
    GROUP BY
        b.entity_id
)

SELECT
    a.entity_id,
    a.row_count
FROM aggregated AS a
ORDER BY a.row_count DESC
