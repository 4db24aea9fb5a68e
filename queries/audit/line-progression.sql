-- For each decision point and each earlier line: the line's progression date as known then, the
-- earliest progression row from the line's start to {window} days after its end (no end: on).
SELECT d.person_id, d.line_id AS point_line_id, l.line_id, MIN(f.fact_date) AS progression_date
FROM audit_decision_points d
JOIN audit_lines l ON l.person_id = d.person_id AND l.line_number < d.line_number
JOIN audit_facts f ON f.person_id = d.person_id AND f.field = 'progression'
  AND f.fact_date >= l.start_date
  AND (l.end_date IS NULL OR f.fact_date <= l.end_date + {window})
  AND f.fact_date <= d.decision_date
GROUP BY d.person_id, d.line_id, l.line_id
ORDER BY d.person_id, d.line_id, l.line_id
