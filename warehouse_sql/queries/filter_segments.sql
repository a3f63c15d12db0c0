-- Customer-segment filter options: the segments the coarse rollup holds.
-- A loose index scan over agg_daily_region_segment_idx: one index probe per segment, so the cost
-- does not grow with the number of days loaded. Grain: one row per segment.
WITH RECURSIVE segments AS (
    (SELECT segment FROM agg_daily_region ORDER BY segment LIMIT 1)
    UNION ALL
    SELECT (SELECT a.segment FROM agg_daily_region AS a
            WHERE a.segment > s.segment ORDER BY a.segment LIMIT 1)
    FROM segments AS s
    WHERE s.segment IS NOT NULL
)
SELECT segment
FROM segments
WHERE segment IS NOT NULL
ORDER BY segment;
