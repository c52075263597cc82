//! The three manifests, as the three stages of an app's life on Forge. What differs between
//! them is asked of the [`Form`] here, one question each, so a part that belongs to some
//! stages only (Jira's modules are one: they need an app without `connectModules`) is
//! one more question, not another branch in every builder.

/// Which manifest to print: the stage the vendor is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// Stage "new Forge app": a vendor who never had Connect installs. Forge modules only.
    Forge,
    /// Stage "Connect on Forge": an existing Connect app moving its installs to Forge. The
    /// Connect app (`app.connect`) and its modules (`connectModules`) ride along beside the
    /// Forge modules, which take keys of their own (the two may not share one).
    WithConnect,
    /// Stage "Connect retired": the release after the move. `app.connect` stays (Atlassian
    /// never lets it go once deployed to production), every Connect module, lifecycle and scope
    /// is gone, and the Forge macro takes the Connect macro's key so the macros saved in pages
    /// render through Forge.
    RetireConnect,
}

impl Form {
    /// The form the command line asked for (`--with-connect`, `--retire-connect`, neither).
    pub(crate) fn from_flags(with_connect: bool, retire_connect: bool) -> Self {
        match (with_connect, retire_connect) {
            (_, true) => Self::RetireConnect,
            (true, false) => Self::WithConnect,
            (false, false) => Self::Forge,
        }
    }

    /// Whether `app.connect` is declared: from the Connect-on-Forge stage on, for good.
    pub(crate) fn declares_connect_app(self) -> bool {
        matches!(self, Self::WithConnect | Self::RetireConnect)
    }

    /// Whether the descriptor's modules, lifecycle and scopes are carried as Connect on Forge.
    pub(crate) fn carries_connect_modules(self) -> bool {
        self == Self::WithConnect
    }

    /// Whether the Forge macro takes over the Connect macro's key (and so its saved macros).
    pub(crate) fn macro_takes_connect_key(self) -> bool {
        self == Self::RetireConnect
    }

    /// Whether the app also serves Jira (`app.compatibility`, the issue panel, …): only an app
    /// without `connectModules` may serve two products, so never while Connect rides along.
    pub(crate) fn serves_jira(self) -> bool {
        !self.carries_connect_modules()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stage_answers_its_own_questions() {
        let answers = |f: Form| {
            (
                f.declares_connect_app(),
                f.carries_connect_modules(),
                f.macro_takes_connect_key(),
                f.serves_jira(),
            )
        };
        assert_eq!(answers(Form::Forge), (false, false, false, true));
        assert_eq!(answers(Form::WithConnect), (true, true, false, false));
        assert_eq!(answers(Form::RetireConnect), (true, false, true, true));
    }

    #[test]
    fn the_flags_name_the_stage() {
        assert_eq!(Form::from_flags(false, false), Form::Forge);
        assert_eq!(Form::from_flags(true, false), Form::WithConnect);
        assert_eq!(Form::from_flags(false, true), Form::RetireConnect);
    }
}
