-- Drug exposures as the graph's drugs: one row per exposure and drug it stands for (a product
-- with two active ingredients gives two rows).  audit_drug_map is made from drug-ingredients.sql;
-- ingredients that are no regimen component (hyaluronidase) are left out here and counted in
-- drug-counts.sql.  An exposure whose concept names no ingredient is kept under the concept's
-- name, or, for concept 0 (never coded), under its drug_source_value.
SELECT e.drug_exposure_id, e.person_id,
       CASE WHEN m.unmapped = 1 AND e.drug_source_value IS NOT NULL
            THEN CONCAT('uncoded: ', LOWER(e.drug_source_value)) ELSE m.drug END AS drug,
       m.unknown,
       e.drug_exposure_start_date AS start_date,
       COALESCE(e.drug_exposure_end_date, e.drug_exposure_start_date) AS end_date
FROM omop_drug_exposure e
JOIN audit_drug_map m ON m.drug_concept_id = e.drug_concept_id
WHERE m.ignored = 0
