-- For each decision point and each earlier line: the line's best response, stop reason and
-- toxicity as known then, each the latest row dated from the line's start to the next line's
-- start (to the decision date for the last one).
SELECT person_id, point_line_id, line_id, field, value_text, value_number, fact_date
FROM (
  SELECT d.person_id, d.line_id AS point_line_id, l.line_id, f.field, f.value_text, f.value_number, f.fact_date,
         ROW_NUMBER() OVER (PARTITION BY d.person_id, d.line_id, l.line_id, f.field
                            ORDER BY f.fact_date DESC, f.value_text DESC NULLS LAST,
                                     f.value_number DESC NULLS LAST) AS recency
  FROM audit_decision_points d
  JOIN (SELECT person_id, line_id, line_number, start_date,
               LEAD(start_date) OVER (PARTITION BY person_id ORDER BY start_date, line_number, line_id) AS next_start
        FROM audit_lines) l
    ON l.person_id = d.person_id AND l.line_number < d.line_number
  JOIN audit_facts f ON f.person_id = d.person_id AND f.field IN ('bestResponse', 'stopReason', 'toxicity')
    AND f.fact_date >= l.start_date
    AND (l.next_start IS NULL OR f.fact_date < l.next_start)
    AND f.fact_date <= d.decision_date
) t
WHERE recency = 1
ORDER BY person_id, point_line_id, line_id, field
