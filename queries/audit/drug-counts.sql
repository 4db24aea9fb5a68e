-- How many exposures and people each drug of audit_drug_map accounts for (summary.json).
SELECT m.drug, m.unknown, m.ignored, m.unmapped, e.drug_concept_id,
       COUNT(*) AS exposures, COUNT(DISTINCT e.person_id) AS persons
FROM omop_drug_exposure e
JOIN audit_drug_map m ON m.drug_concept_id = e.drug_concept_id
GROUP BY m.drug, m.unknown, m.ignored, m.unmapped, e.drug_concept_id
ORDER BY m.drug NULLS LAST, e.drug_concept_id
