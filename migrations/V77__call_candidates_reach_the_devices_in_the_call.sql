-- A call's two devices: the one that called and the one that answered. Once a call is answered,
-- each side's ICE candidates go to the other side's device alone, not to every device of both
-- (the others have no part in it and only ignore them). `events.device_session` names the one
-- device session an event is for: only its connections are pushed it, and only its sync lists
-- it; an event without one is for every device of its stream, as before.
ALTER TABLE calls ADD COLUMN caller_session uuid, ADD COLUMN answered_session uuid;
ALTER TABLE events ADD COLUMN device_session uuid;
