-- netdocs schema v11: audit retention that works under the recommended grants, and keeps
-- every prune record.
--
-- netdocs_audit_prune ran with its caller's rights, so a role granted only INSERT and
-- SELECT on audit_log (and EXECUTE on this function), as the README recommends, could not
-- prune at all; and granting DELETE so that it could would let that role insert a prune
-- record of its own and delete chosen rows under it. Now the function runs with its
-- owner's rights (SECURITY DEFINER, search_path pinned): the application role needs no
-- DELETE. Prune records are never pruned: each one says who removed what, for good.
CREATE OR REPLACE FUNCTION netdocs_audit_prune(p_before timestamptz, p_user text, p_role text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    n bigint;
BEGIN
    IF p_before > now() THEN
        RAISE EXCEPTION 'audit prune: the cutoff % is in the future', p_before;
    END IF;
    SELECT count(*) INTO n FROM audit_log WHERE at < p_before AND action <> 'prune';
    INSERT INTO audit_log (query_id, action, user_name, role, question, details)
    VALUES (gen_random_uuid(), 'prune', p_user, p_role, '',
            jsonb_build_object('before', p_before, 'deleted', n));
    DELETE FROM audit_log WHERE at < p_before AND action <> 'prune';
    RETURN n;
END $$;
REVOKE ALL ON FUNCTION netdocs_audit_prune(timestamptz, text, text) FROM PUBLIC;
