-- Every line with its drugs, by person (what records and outcomes are built from).
SELECT l.person_id, l.line_id, l.line_number, l.start_date, l.end_date,
       g.drug, g.unknown, g.start_date AS drug_start, g.end_date AS drug_end
FROM audit_lines l
LEFT JOIN audit_line_drugs g ON g.person_id = l.person_id AND g.line_id = l.line_id
ORDER BY l.person_id, l.line_number, l.start_date, l.line_id, g.drug NULLS LAST
