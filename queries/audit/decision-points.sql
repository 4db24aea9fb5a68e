-- A decision point at the start of every line from the second on.
SELECT person_id, line_id, line_number, start_date AS decision_date
FROM audit_lines
WHERE line_number >= 2
