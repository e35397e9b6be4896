//! Which screen is showing: the app's small, flat navigation state.

/// A screen of the app. Person and event pages carry the id they show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    Capture,
    Today,
    People,
    Person(aftercall_shared::model::PersonId),
    Review,
    Event,
    EventPage(aftercall_shared::model::EventId),
    Sync,
    Transfer,
    /// On a phone: the screens that do not fit the bottom bar.
    More,
}

impl Screen {
    /// The navigation entry this screen belongs to.
    pub fn section(&self) -> Section {
        match self {
            Screen::Capture => Section::Capture,
            Screen::Today => Section::Today,
            Screen::People | Screen::Person(_) => Section::People,
            Screen::Review => Section::Review,
            Screen::Event | Screen::EventPage(_) => Section::Event,
            Screen::Sync => Section::Sync,
            Screen::Transfer => Section::Transfer,
            Screen::More => Section::More,
        }
    }
}

/// An entry of the navigation bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Capture,
    Today,
    People,
    Review,
    Event,
    Sync,
    Transfer,
    More,
}

impl Section {
    /// Every entry, in navigation order.
    pub const ALL: [Section; 8] = [
        Section::Capture,
        Section::Today,
        Section::People,
        Section::Review,
        Section::Event,
        Section::Sync,
        Section::Transfer,
        Section::More,
    ];

    /// The label the user reads.
    pub fn label(self) -> &'static str {
        match self {
            Section::Capture => "Capture",
            Section::Today => "Today",
            Section::People => "People",
            Section::Review => "Review",
            Section::Event => "Event mode",
            Section::Sync => "Sync & devices",
            Section::Transfer => "Import / export",
            Section::More => "More",
        }
    }

    /// A one-character mark drawn above the label.
    pub fn icon(self) -> &'static str {
        match self {
            Section::Capture => "✎",
            Section::Today => "☑",
            Section::People => "☺",
            Section::Review => "▥",
            Section::Event => "⚑",
            Section::Sync => "⇅",
            Section::Transfer => "⇄",
            Section::More => "⋯",
        }
    }

    /// On a phone, only the first four and "More" sit in the bottom bar.
    pub fn on_phone_bar(self) -> bool {
        matches!(
            self,
            Section::Capture | Section::Today | Section::People | Section::Review | Section::More
        )
    }

    /// The screen the entry opens.
    pub fn screen(self) -> Screen {
        match self {
            Section::Capture => Screen::Capture,
            Section::Today => Screen::Today,
            Section::People => Screen::People,
            Section::Review => Screen::Review,
            Section::Event => Screen::Event,
            Section::Sync => Screen::Sync,
            Section::Transfer => Screen::Transfer,
            Section::More => Screen::More,
        }
    }

    /// A stable name for tests and styling.
    pub fn slug(self) -> &'static str {
        match self {
            Section::Capture => "capture",
            Section::Today => "today",
            Section::People => "people",
            Section::Review => "review",
            Section::Event => "event",
            Section::Sync => "sync",
            Section::Transfer => "transfer",
            Section::More => "more",
        }
    }
}
