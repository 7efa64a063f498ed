"""A Teams bot using the Teams operations: team, channels, meeting, participant, meeting notification, a batch
send followed to its end, and the AI label with a citation on an answer.

Offline: the local emulator (``pip install -e ".[emulator]"``) plays Teams with a fixed tenant, team and meeting,
and hands the bot the activities Teams would send; the bot reads the ids from their ``channelData`` as it would
in production, where ``client`` is ``ConnectorClient(activity.service_url, MicrosoftAppCredentials(...))``.
"""

from __future__ import annotations

from botconnect.emulator import Emulator
from botconnect.models import (
    Activity,
    Citation,
    MeetingStageSurface,
    MessageEntity,
    TargetedMeetingNotification,
    TeamsChannelData,
)

UNKNOWN_USERS = ["29:left-the-company", "29:never-installed", "29:guest-elsewhere"]


def main() -> int:
    with Emulator() as emulator, emulator.connector_client() as client:
        teams = emulator.app.teams  # the emulator's Teams, to get the activities Teams would deliver

        # -- a message in a channel: the team and tenant come with it ---------------------------------------
        incoming = Activity.from_dict(teams.incoming_message("what's on today?"))
        data = TeamsChannelData.from_activity(incoming)
        assert data.team is not None
        assert data.team.id is not None
        assert data.tenant_id is not None
        team = client.teams.get_team_details(data.team.id)
        print(f"team: {team.name}, {team.member_count} members, {team.channel_count} channels")
        channels = client.teams.get_teams_channels(data.team.id)
        print("channels: " + ", ".join(channel.name or "General" for channel in channels))

        # -- an answer with the AI label and a citation -------------------------------------------------------
        answer = Activity(type="message", text="The stand-up is at 9:00 [1].", entities=[MessageEntity.create()])
        entity = MessageEntity.from_activity(answer)
        assert entity is not None
        entity.add_citation(Citation.create(1, "Team calendar", "Stand-up, 9:00-9:30", url="https://example.com/cal"))
        assert incoming.conversation is not None
        assert incoming.conversation.id is not None
        sent = client.conversations.send_to_conversation(incoming.conversation.id, answer)
        stored = emulator.store.conversations[incoming.conversation.id].activities[-1]
        citation = stored["entities"][0]["citation"][0]["appearance"]["name"]
        print(f"answered with the AI label and citation [1] {citation!r}")
        assert sent.id is not None
        client.teams.add_reaction(incoming.conversation.id, sent.id, "like")
        print(f"reacted: {teams.reactions[(incoming.conversation.id, sent.id)]}")

        # -- a message in the meeting chat: the meeting id (base64) comes with it ---------------------------
        in_meeting = Activity.from_dict(teams.incoming_message("share the agenda", user=1, in_meeting=True))
        meeting_data = TeamsChannelData.from_activity(in_meeting)
        assert meeting_data.meeting is not None
        assert meeting_data.meeting.id is not None
        meeting_id = meeting_data.meeting.id
        meeting = client.teams.get_meeting_info(meeting_id)
        assert meeting.details is not None
        assert meeting.organizer is not None
        print(f"meeting: {meeting.details.title}, organised by {meeting.organizer.name}")
        assert in_meeting.from_property is not None
        assert in_meeting.from_property.aad_object_id is not None
        sender = in_meeting.from_property.aad_object_id
        assert meeting_data.tenant_id is not None
        participant = client.teams.get_meeting_participant(meeting_id, sender, meeting_data.tenant_id)
        assert participant.user is not None
        assert participant.meeting is not None
        print(f"participant: {participant.user.name} is {participant.meeting.role}")

        notification = TargetedMeetingNotification.create(
            [sender, "00000000-0000-0000-0000-000000000000"],
            [MeetingStageSurface.task("https://example.com/agenda", title="Agenda", height=300, width=400)],
        )
        result = client.teams.send_meeting_notification(meeting_id, notification)
        if result is None:
            print("notification: every recipient got it")
        else:
            missed = [f"{f.recipient_mri} ({f.error_code})" for f in result.recipients_failure_info or []]
            print("notification: not delivered to " + ", ".join(missed))

        # -- a batch send to a list of users, followed to its end ---------------------------------------------
        members = ["29:ada", "29:grace", *UNKNOWN_USERS, "29:alan"]
        reminder = Activity(type="message", text="Reminder: stand-up at 9:00")
        operation_id = client.teams.send_message_to_list_of_users(reminder, members, data.tenant_id)
        states = []
        while True:
            state = client.teams.get_operation_state(operation_id)
            states.append(state.state)
            if state.state not in ("NotStarted", "InProgress"):
                break
            # a real bot waits until state.retry_after here; the emulator moves on at each poll
        print("batch: " + " -> ".join(str(s) for s in states))
        print(f"batch result: {state.status_map} of {state.total_entries_count} entries")
        pages = client.teams.get_failed_entries(operation_id).by_page()
        for number, page in enumerate(pages, 1):
            print(f"failed entries page {number}: {[entry.entry_id for entry in page]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
