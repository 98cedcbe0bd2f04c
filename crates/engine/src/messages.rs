//! Validation messages of the platform in German and English. Texts follow the GOV.UK style
//! guide translated into plain German: say what to do, name the field, no jargon.
//! Procedure-specific messages live in the procedure's form.json instead.

use rathaus_domain::Lang;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Msg {
    Required,
    RequiredChoice,
    RequiredItems,
    MustConfirm,
    TooLong,
    MustBeText,
    MustBeInteger,
    MustBeBoolean,
    MustBeList,
    InvalidDate,
    TooSmall,
    TooLarge,
    InvalidEmail,
    InvalidPhone,
    InvalidUrl,
    InvalidPostcode,
    InvalidMoney,
    InvalidHouseNumber,
    TooLongPart,
    InvalidIban,
    IbanLength,
    InvalidFormat,
    NotAnOption,
    TooFewItems,
    TooManyItems,
    UnknownField,
    NotAnObject,
    RequiredFile,
    TooManyFiles,
    FileNotAccepted,
    NotFiles,
    FileEmpty,
    FileTooLarge,
    FileWrongKind,
    FileIsOtherKind,
    FileNameMismatch,
    FileInfected,
    FileScanUnavailable,
    FileGone,
    FileNotChosen,
}

/// The message text with `{0}`, `{1}` … replaced by `args` (the field label comes first).
pub fn msg(lang: Lang, m: Msg, args: &[&str]) -> String {
    let template = match lang {
        Lang::De => de(m),
        Lang::En => en(m),
    };
    let mut out = template.to_string();
    for (i, a) in args.iter().enumerate() {
        out = out.replace(&format!("{{{i}}}"), a);
    }
    out
}

fn de(m: Msg) -> &'static str {
    match m {
        Msg::Required => "Geben Sie „{0}“ an.",
        Msg::RequiredChoice => "Wählen Sie „{0}“ aus.",
        Msg::RequiredItems => "Geben Sie mindestens einen Eintrag für „{0}“ an.",
        Msg::MustConfirm => "Bestätigen Sie „{0}“.",
        Msg::TooLong => "„{0}“ darf höchstens {1} Zeichen lang sein.",
        Msg::MustBeText => "„{0}“ muss ein Text sein.",
        Msg::MustBeInteger => "„{0}“ muss eine ganze Zahl sein, z. B. 3.",
        Msg::MustBeBoolean => "„{0}“ muss ja oder nein sein.",
        Msg::MustBeList => "„{0}“ muss eine Liste sein.",
        Msg::InvalidDate => "„{0}“ muss ein gültiges Datum sein, z. B. 27.03.2026.",
        Msg::TooSmall => "„{0}“ muss mindestens {1} sein.",
        Msg::TooLarge => "„{0}“ darf höchstens {1} sein.",
        Msg::InvalidEmail => "„{0}“ muss eine E-Mail-Adresse sein, z. B. name@beispiel.de.",
        Msg::InvalidPhone => "„{0}“ muss eine Telefonnummer sein, z. B. 0371 123456.",
        Msg::InvalidUrl => "„{0}“ muss eine Internetadresse sein, z. B. https://www.beispiel.de.",
        Msg::InvalidPostcode => "„{0}“ muss eine fünfstellige Postleitzahl sein, z. B. 09999.",
        Msg::InvalidMoney => "„{0}“ muss ein Betrag in Euro sein, z. B. 1.234,56.",
        Msg::InvalidHouseNumber => "„{0}“ muss mit einer Ziffer beginnen, z. B. 12 oder 12a.",
        Msg::TooLongPart => "„{0}“ darf höchstens 100 Zeichen lang sein.",
        Msg::InvalidIban => {
            "„{0}“ ist keine gültige IBAN. Prüfen Sie sie mit Ihren Kontounterlagen, z. B. DE89 3704 0044 0532 0130 00."
        }
        Msg::IbanLength => "„{0}“: Eine IBAN aus {1} hat {2} Zeichen, eingegeben sind {3}.",
        Msg::InvalidFormat => "„{0}“ hat nicht das erwartete Format.",
        Msg::NotAnOption => "„{0}“: „{1}“ ist keine zulässige Auswahl.",
        Msg::TooFewItems => "Geben Sie für „{0}“ mindestens {1} Einträge an.",
        Msg::TooManyItems => "Für „{0}“ sind höchstens {1} Einträge möglich.",
        Msg::UnknownField => "Dieses Feld gibt es in diesem Antrag nicht.",
        Msg::NotAnObject => "Die Angaben müssen ein JSON-Objekt sein.",
        Msg::RequiredFile => "Laden Sie „{0}“ hoch.",
        Msg::TooManyFiles => "Laden Sie für „{0}“ höchstens {1} Dateien hoch.",
        Msg::FileNotAccepted => "„{0}“: Die Datei „{1}“ ist hier nicht zulässig. Laden Sie sie erneut hoch.",
        Msg::NotFiles => "„{0}“ muss eine Liste hochgeladener Dateien sein.",
        Msg::FileEmpty => "„{0}“: Die Datei „{1}“ ist leer. Wählen Sie eine andere Datei.",
        Msg::FileTooLarge => "„{0}“: Die Datei „{1}“ ist größer als {2} MB. Laden Sie eine kleinere Datei hoch, zum Beispiel einen Scan mit geringerer Auflösung.",
        Msg::FileWrongKind => "„{0}“: Diese Art von Datei ist nicht erlaubt („{1}“). Erlaubt sind: {2}.",
        Msg::FileIsOtherKind => "„{0}“: Die Datei „{1}“ ist eine {2}-Datei. Erlaubt sind: {3}.",
        Msg::FileNameMismatch => "„{0}“: Die Datei „{1}“ ist eine {2}-Datei, ihr Name endet aber nicht auf „.{3}“. Benennen Sie die Datei um und laden Sie sie erneut hoch.",
        Msg::FileInfected => "„{0}“: In der Datei „{1}“ wurde Schadsoftware gefunden. Die Datei wurde nicht angenommen.",
        Msg::FileScanUnavailable => "„{0}“: Die Datei „{1}“ konnte gerade nicht auf Schadsoftware geprüft werden. Versuchen Sie es in einigen Minuten erneut; Ihre übrigen Angaben sind gespeichert.",
        Msg::FileGone => "„{0}“: Die Datei „{1}“ ist nicht mehr gespeichert. Laden Sie sie erneut hoch.",
        Msg::FileNotChosen => "Wählen Sie für „{0}“ eine Datei aus.",
    }
}

fn en(m: Msg) -> &'static str {
    match m {
        Msg::Required => "Enter “{0}”.",
        Msg::RequiredChoice => "Select “{0}”.",
        Msg::RequiredItems => "Enter at least one entry for “{0}”.",
        Msg::MustConfirm => "Confirm “{0}”.",
        Msg::TooLong => "“{0}” must be {1} characters or fewer.",
        Msg::MustBeText => "“{0}” must be text.",
        Msg::MustBeInteger => "“{0}” must be a whole number, like 3.",
        Msg::MustBeBoolean => "“{0}” must be yes or no.",
        Msg::MustBeList => "“{0}” must be a list.",
        Msg::InvalidDate => "“{0}” must be a real date, like 27 03 2026.",
        Msg::TooSmall => "“{0}” must be {1} or more.",
        Msg::TooLarge => "“{0}” must be {1} or less.",
        Msg::InvalidEmail => "“{0}” must be an email address, like name@example.com.",
        Msg::InvalidPhone => "“{0}” must be a telephone number, like 0371 123456.",
        Msg::InvalidUrl => "“{0}” must be a web address, like https://www.example.com.",
        Msg::InvalidPostcode => "“{0}” must be a 5-digit postcode, like 09999.",
        Msg::InvalidMoney => "“{0}” must be an amount in euros, like 1234.56.",
        Msg::InvalidHouseNumber => "“{0}” must start with a number, like 12 or 12a.",
        Msg::TooLongPart => "“{0}” must be 100 characters or fewer.",
        Msg::InvalidIban => {
            "“{0}” is not a valid IBAN. Check it against your bank details, like DE89 3704 0044 0532 0130 00."
        }
        Msg::IbanLength => "“{0}”: an IBAN from {1} has {2} characters, you entered {3}.",
        Msg::InvalidFormat => "“{0}” is not in the expected format.",
        Msg::NotAnOption => "“{0}”: “{1}” is not an allowed choice.",
        Msg::TooFewItems => "Enter at least {1} entries for “{0}”.",
        Msg::TooManyItems => "“{0}” allows at most {1} entries.",
        Msg::UnknownField => "This application has no such field.",
        Msg::NotAnObject => "The data must be a JSON object.",
        Msg::RequiredFile => "Upload “{0}”.",
        Msg::TooManyFiles => "Upload at most {1} files for “{0}”.",
        Msg::FileNotAccepted => "“{0}”: the file “{1}” is not allowed here. Upload it again.",
        Msg::NotFiles => "“{0}” must be a list of uploaded files.",
        Msg::FileEmpty => "“{0}”: the file “{1}” is empty. Choose another file.",
        Msg::FileTooLarge => "“{0}”: the file “{1}” is larger than {2} MB. Upload a smaller file, for example a scan with a lower resolution.",
        Msg::FileWrongKind => "“{0}”: this kind of file is not allowed (“{1}”). Allowed are: {2}.",
        Msg::FileIsOtherKind => "“{0}”: the file “{1}” is a {2} file. Allowed are: {3}.",
        Msg::FileNameMismatch => "“{0}”: the file “{1}” is a {2} file, but its name does not end in “.{3}”. Rename the file and upload it again.",
        Msg::FileInfected => "“{0}”: malware was found in the file “{1}”. The file was not accepted.",
        Msg::FileScanUnavailable => "“{0}”: the file “{1}” could not be checked for malware just now. Try again in a few minutes; your other answers are saved.",
        Msg::FileGone => "“{0}”: the file “{1}” is no longer stored. Upload it again.",
        Msg::FileNotChosen => "Choose a file for “{0}”.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_placeholders() {
        assert_eq!(msg(Lang::De, Msg::TooLong, &["Name", "200"]), "„Name“ darf höchstens 200 Zeichen lang sein.");
        assert_eq!(msg(Lang::En, Msg::Required, &["Name"]), "Enter “Name”.");
    }
}
