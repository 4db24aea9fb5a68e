-- The patient's facts known at each decision point (dated on or before it): the latest row of
-- each field, and every cytogenetic finding and heart condition.  Ties on a date are broken by
-- value so that every engine picks the same row.
SELECT person_id, line_id, field, value_text, value_number, fact_date
FROM (
  SELECT d.person_id, d.line_id, f.field, f.value_text, f.value_number, f.fact_date,
         ROW_NUMBER() OVER (PARTITION BY d.person_id, d.line_id, f.field
                            ORDER BY f.fact_date DESC, f.value_number DESC NULLS LAST,
                                     f.value_text DESC NULLS LAST) AS recency
  FROM audit_decision_points d
  JOIN audit_facts f ON f.person_id = d.person_id AND f.fact_date <= d.decision_date
  WHERE f.field NOT IN ('progression', 'bestResponse', 'stopReason', 'toxicity')
) t
WHERE recency = 1 OR field IN ('cytogenetics', 'cardiacCondition')
ORDER BY person_id, line_id, field, fact_date, value_text NULLS LAST, value_number NULLS LAST
