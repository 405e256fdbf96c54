-- Push notifications (PRD: a notification queue for push notifications) to devices that are
-- not connected. A device registers once per device session: the platform (FCM or APNs), the
-- token the platform gave the app, and the endpoint the notifier made of it (an SNS platform
-- endpoint on AWS). A session that ends forgets its device (the trigger below), one that expired
-- is not notified; a token registered again (the app logged in to another account) moves to the
-- new session.
CREATE TABLE push_devices (
    session_id uuid PRIMARY KEY REFERENCES device_sessions (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    platform   text NOT NULL CHECK (platform IN ('fcm', 'apns')),
    token      text NOT NULL CHECK (length(token) BETWEEN 1 AND 1024),
    endpoint   text NOT NULL CHECK (length(endpoint) BETWEEN 1 AND 2048),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (platform, token)
);
-- The relay's lookup: the devices of a message's recipients.
CREATE INDEX push_devices_user ON push_devices (user_id);

-- A session that ends (logout, revoked, a refresh token used twice) takes its device with it.
CREATE FUNCTION forget_push_device_of_ended_session() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM push_devices WHERE session_id = NEW.id;
    RETURN NEW;
END
$$;
GRANT EXECUTE ON FUNCTION forget_push_device_of_ended_session() TO banter_app;
CREATE TRIGGER device_sessions_forget_push_device
    AFTER UPDATE OF revoked_at ON device_sessions
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION forget_push_device_of_ended_session();

-- Endpoints no device uses any more (a session ended, a token moved, an account was erased,
-- the platform gave the token up), for the scheduled housekeeping to delete at the push service
-- (`notifications::retire_endpoints`). One written as a new device takes it again (the same
-- token gives the same SNS endpoint) is kept.
CREATE TABLE push_endpoints_retired (
    endpoint   text PRIMARY KEY,
    retired_at timestamptz NOT NULL DEFAULT now()
);
CREATE FUNCTION retire_push_endpoint() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO push_endpoints_retired (endpoint) VALUES (OLD.endpoint) ON CONFLICT DO NOTHING;
    RETURN OLD;
END
$$;
GRANT EXECUTE ON FUNCTION retire_push_endpoint() TO banter_app;
CREATE TRIGGER push_devices_retire_endpoint
    AFTER DELETE ON push_devices
    FOR EACH ROW EXECUTE FUNCTION retire_push_endpoint();
