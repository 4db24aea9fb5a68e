-- For each decision point and each earlier line: the line's progression date as known then.  A
-- progression row belongs to the line it falls in, from the line's start to {window} days after
-- its end (no end: on); where two lines' spans hold it, to the one that started last before its
-- date (a line starting that very day only if no other holds it: a progression is what ends a
-- line).  The earliest row a line holds is its progression date.
WITH held AS (
  SELECT f.person_id, f.fact_date, l.line_id, l.line_number,
         ROW_NUMBER() OVER (PARTITION BY f.person_id, f.fact_date
                            ORDER BY CASE WHEN l.start_date < f.fact_date THEN 0 ELSE 1 END,
                                     l.start_date DESC, l.line_number DESC, l.line_id DESC) AS latest
  FROM audit_facts f
  JOIN audit_lines l ON l.person_id = f.person_id
    AND f.fact_date >= l.start_date
    AND (l.end_date IS NULL OR f.fact_date <= l.end_date + {window})
  WHERE f.field = 'progression'
)
SELECT d.person_id, d.line_id AS point_line_id, h.line_id, MIN(h.fact_date) AS progression_date
FROM audit_decision_points d
JOIN held h ON h.person_id = d.person_id AND h.latest = 1 AND h.line_number < d.line_number
  AND h.fact_date <= d.decision_date
GROUP BY d.person_id, d.line_id, h.line_id
ORDER BY d.person_id, d.line_id, h.line_id
